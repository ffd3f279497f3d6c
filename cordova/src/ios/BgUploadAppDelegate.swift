@preconcurrency import Cordova
import UIKit

extension CDVAppDelegate {
    /// iOS launched or woke the app for the events of the background upload
    /// session (uploads that ended while the app was suspended or not
    /// running). The engine is opened and the session connected, so that
    /// their outcomes are reported and persisted as events (delivered to the
    /// app's callback on its next init); `completionHandler` runs once the
    /// session's events have all been delivered.
    ///
    /// Added to `CDVAppDelegate`, so an app's `AppDelegate` has it unless it
    /// implements this method itself: it must then call
    /// `BgUploadEngine.handleBackgroundSessionEvents(identifier:completionHandler:)`.
    @objc(application:handleEventsForBackgroundURLSession:completionHandler:)
    public func bgupload_application(_ application: UIApplication,
                                     handleEventsForBackgroundURLSession identifier: String,
                                     completionHandler: @escaping () -> Void) {
        if !BgUploadEngine.handleBackgroundSessionEvents(identifier: identifier,
                                                         completionHandler: completionHandler) {
            completionHandler()
        }
    }
}
