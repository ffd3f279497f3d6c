// Compile-time stub (scripts/cordova-check.sh): the Foundation API the
// plugin's Swift glue uses that exists on iOS but not in Linux's Foundation.
// The check renames `URLSessionConfiguration.background(withIdentifier:)`
// (unavailable on Linux) to `darwinBackground(withIdentifier:)`. Never run.
#if canImport(FoundationNetworking)
import Foundation
import FoundationNetworking

extension URLSessionConfiguration {
    class func darwinBackground(withIdentifier identifier: String) -> URLSessionConfiguration { .default }

    var sessionSendsLaunchEvents: Bool {
        get { false }
        set {}
    }
}

extension URLRequest {
    var allowsExpensiveNetworkAccess: Bool {
        get { true }
        set {}
    }
}
#endif
