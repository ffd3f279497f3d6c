import Foundation
import Network

/// The upload engine of this app process, with its transfers owned by iOS:
/// each attempt the engine starts is an upload task of one background
/// `URLSession` (`BackgroundUploads`), which goes on while the app is
/// suspended or terminated by the system, and whose outcome is reported
/// back to the engine when the app runs again.
///
/// Engine calls block until the engine answers; `submit` runs them one at
/// a time, in order, off the main thread. Error messages made here begin
/// with "the upload engine " or "cannot open the upload engine", as the
/// engine's own do (the plugin's JS tells such failures from refused
/// payloads by that).
///
/// The network's cost is reported to the engine (`NWPathMonitor`'s
/// `isExpensive`: cellular, a hotspot), so that a `network: "unmetered"`
/// upload waits, without holding a parallel slot, while the network is
/// expensive; its tasks also have `allowsExpensiveNetworkAccess` false, so
/// the system never runs them on such a network. Reachability is not
/// reported (see `ensureOpen`).
final class BgUploadEngine: @unchecked Sendable {
    /// An engine call that failed, with its message.
    struct Failure: Error {
        let message: String
    }

    static let shared = BgUploadEngine()

    /// Subdirectory of Application Support holding the store and the
    /// prepared request bodies.
    static let dataDirectoryName = "bgupload"

    let uploads = BackgroundUploads(identifier: BackgroundUploads.sessionIdentifier)
    private let commands = DispatchQueue(label: "com.bgupload.commands")
    private let lock = NSLock()
    private var open = false
    private let pathMonitor = NWPathMonitor()
    private let pathQueue = DispatchQueue(label: "com.bgupload.network")
    /// Whether the engine was told the network is expensive; on `pathQueue` only.
    private var reportedMetered = false

    private init() {}

    /// Runs `work` on the command queue, after every earlier one.
    func submit(_ work: @escaping @Sendable () -> Void) {
        commands.async(execute: work)
    }

    /// Opens the engine once per process (uploads left from an earlier run
    /// resume, or wait for the session's report), then connects the
    /// background session so that its pending reports come in. nil or the
    /// error.
    func ensureOpen() -> String? {
        lock.lock()
        defer { lock.unlock() }
        if open {
            return nil
        }
        let dataDirectory: URL
        do {
            dataDirectory = try Self.dataDirectory()
        } catch {
            return "cannot open the upload engine: \(error.localizedDescription)"
        }
        // The network is always "reachable" for the engine: a background
        // session's tasks wait for connectivity themselves, also while the
        // app is suspended.
        let host = BgUploadTransferHost(uploads: uploads)
        if let error = bguploadOpenOsOwned(dataDirectory.path, "{}", host) {
            return error.toString()
        }
        open = true
        uploads.connect()
        watchNetwork()
        return nil
    }

    /// Reports the network's cost from now on, changes only (the engine
    /// opened with "not expensive"). Offline counts as not expensive: an
    /// "unmetered" upload's task is then handed to the system, which starts
    /// it once a network it may use comes, also while the app is suspended.
    /// While the app is suspended nothing is reported: an "unmetered" upload
    /// the engine holds on an expensive network starts when the app runs
    /// again on another one.
    private func watchNetwork() {
        pathMonitor.pathUpdateHandler = { [weak self] path in
            self?.networkChanged(metered: path.status == .satisfied && path.isExpensive)
        }
        pathMonitor.start(queue: pathQueue)
    }

    /// On `pathQueue`.
    private func networkChanged(metered: Bool) {
        guard metered != reportedMetered else {
            return
        }
        reportedMetered = metered
        submit {
            if let error = bguploadSetNetwork(true, metered) {
                NSLog("bgupload: the upload engine did not take the network change: %@", error.toString())
            }
        }
    }

    /// `init(config, callback)`: events go to `receive` from now on,
    /// starting with every unacknowledged terminal event. nil or the error.
    func attach(configJson: String?, receive: @escaping @Sendable ([String: Any]) -> Void) -> String? {
        if let error = ensureOpen() {
            return error
        }
        return bguploadInit(configJson ?? "", BgUploadEventListener(receive: receive))?.toString()
    }

    /// The WebView's callback is gone (destroy, page reload); uploads go on.
    func detach() -> String? {
        if let error = ensureOpen() {
            return error
        }
        return bguploadDestroy()?.toString()
    }

    func startUpload(payloadJson: String?) -> String? {
        ensureOpen() ?? bguploadStartUpload(payloadJson ?? "")?.toString()
    }

    func removeUpload(id: String?) -> String? {
        ensureOpen() ?? bguploadRemoveUpload(id ?? "")?.toString()
    }

    func acknowledgeEvent(eventId: String?) -> String? {
        ensureOpen() ?? bguploadAcknowledgeEvent(eventId ?? "")?.toString()
    }

    func pauseUpload(id: String?) -> String? {
        ensureOpen() ?? bguploadPauseUpload(id ?? "")?.toString()
    }

    func resumeUpload(id: String?) -> String? {
        ensureOpen() ?? bguploadResumeUpload(id ?? "")?.toString()
    }

    func updateHeaders(id: String?, headersJson: String?) -> String? {
        ensureOpen() ?? bguploadUpdateHeaders(id ?? "", headersJson ?? "")?.toString()
    }

    /// `getUploads()`: the listing (`uploads`, `unacknowledgedEvents`), or the error.
    func getUploads() -> Result<[String: Any], Failure> {
        if let error = ensureOpen() {
            return .failure(Failure(message: error))
        }
        // The listing, or {"error": message}: a listing has no "error" field.
        let text = bguploadGetUploads().toString()
        guard let listing = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            return .failure(Failure(message: "the upload engine answered getUploads with no JSON object: \(text)"))
        }
        if let error = listing["error"] as? String {
            return .failure(Failure(message: error))
        }
        return .success(listing)
    }

    /// For `application(_:handleEventsForBackgroundURLSession:completionHandler:)`:
    /// false when `identifier` is not this plugin's session.
    static func handleBackgroundSessionEvents(identifier: String,
                                              completionHandler: @escaping () -> Void) -> Bool {
        guard identifier == BackgroundUploads.sessionIdentifier else {
            return false
        }
        shared.uploads.handleEvents(completionHandler: completionHandler)
        shared.submit {
            if let error = shared.ensureOpen() {
                NSLog("bgupload: %@", error)
            }
        }
        return true
    }

    /// Application Support/bgupload, created, excluded from backups.
    private static func dataDirectory() throws -> URL {
        let support = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        var directory = support.appendingPathComponent(dataDirectoryName, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try directory.setResourceValues(values)
        return directory
    }
}
