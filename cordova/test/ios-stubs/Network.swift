// Compile-time stub (scripts/cordova-check.sh): the Network framework
// declarations the plugin's Swift glue uses, as Swift sees them on iOS 13+
// (Linux has no Network framework). Never run.
import Foundation

public struct NWPath: Equatable, Sendable {
    public enum Status: Equatable, Sendable {
        case satisfied
        case unsatisfied
        case requiresConnection
    }

    public var status: NWPath.Status { .unsatisfied }
    public var isExpensive: Bool { false }
    public var isConstrained: Bool { false }
}

public final class NWPathMonitor: @unchecked Sendable {
    public init() {}
    public var currentPath: NWPath { NWPath() }
    public var pathUpdateHandler: (@Sendable (_ newPath: NWPath) -> Void)?
    public var queue: DispatchQueue? { nil }
    public func start(queue: DispatchQueue) {}
    public func cancel() {}
}
