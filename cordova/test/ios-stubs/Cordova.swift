// Compile-time stub (scripts/cordova-check.sh): the cordova-ios 8
// declarations the plugin's Swift glue uses, as Swift imports them from
// CordovaLib's Objective-C headers. Never run.
import Foundation
import UIKit

public enum CDVCommandStatus: UInt {
    case noResult = 0
    case ok
    case classNotFoundException
    case illegalAccessException
    case instantiationException
    case malformedUrlException
    case ioException
    case invalidAction
    case jsonException
    case error
}

open class CDVPluginResult: NSObject {
    public init(status: CDVCommandStatus) {}
    public init(status: CDVCommandStatus, messageAs: String) {}
    public init(status: CDVCommandStatus, messageAs: [AnyHashable: Any]) {}
    open func setKeepCallbackAs(_ keepCallback: Bool) {}
}

open class CDVInvokedUrlCommand: NSObject {
    open var callbackId: String! { nil }
    open func argument(at index: Int) -> Any! { nil }
}

public protocol CDVCommandDelegate: NSObjectProtocol {
    func send(_ result: CDVPluginResult, callbackId: String)
}

open class CDVPlugin: NSObject {
    open weak var commandDelegate: CDVCommandDelegate!
    open func pluginInitialize() {}
    open func onReset() {}
}

open class CDVAppDelegate: UIResponder, UIApplicationDelegate {}
