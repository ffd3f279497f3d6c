// Compile-time stub (scripts/cordova-check.sh): the UIKit declarations the
// plugin's Swift glue uses, as Swift sees them on iOS. Never run.
import Foundation

open class UIResponder: NSObject {}

open class UIApplication: UIResponder {}

public protocol UIApplicationDelegate: AnyObject {}
