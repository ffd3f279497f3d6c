import Foundation

// The two Swift classes the Rust side calls through swift-bridge
// (ffi/src/ios.rs): their names, `public final class … : @unchecked
// Sendable` and method signatures are fixed by the generated bridge code.

/// Receives every event of the engine, on the engine's event thread.
public final class BgUploadEventListener: @unchecked Sendable {
    private let receive: @Sendable ([String: Any]) -> Void

    init(receive: @escaping @Sendable ([String: Any]) -> Void) {
        self.receive = receive
    }

    /// One event as the reference plugin's JSON object text.
    func onEvent(json: RustString) {
        guard let data = json.toString().data(using: .utf8),
              let event = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return }
        receive(event)
    }
}

/// Runs the engine's attempts as background upload tasks. Called on the
/// engine's runtime threads: it only starts or cancels tasks; every report
/// goes back later, from the session's delegate queue.
public final class BgUploadTransferHost: @unchecked Sendable {
    private let uploads: BackgroundUploads

    init(uploads: BackgroundUploads) {
        self.uploads = uploads
    }

    /// `headers_json` has the upload's `Idempotency-Key` when it has one;
    /// `allows_metered` is false for `network: "unmetered"`.
    func startTransfer(upload_id: RustString, attempt: UInt32, url: RustString, method: RustString,
                       headers_json: RustString, body_file_path: RustString, allows_metered: Bool) {
        uploads.start(
            TransferKey(uploadId: upload_id.toString(), attempt: attempt),
            url: url.toString(),
            method: method.toString(),
            headersJson: headers_json.toString(),
            bodyFile: URL(fileURLWithPath: body_file_path.toString()),
            allowsMetered: allows_metered)
    }

    func cancelTransfer(upload_id: RustString, attempt: UInt32) {
        uploads.cancel(TransferKey(uploadId: upload_id.toString(), attempt: attempt))
    }
}

/// One attempt of one upload; kept in the task's `taskDescription`, which
/// the system keeps across a relaunch.
struct TransferKey: Equatable {
    let uploadId: String
    let attempt: UInt32

    var taskDescription: String { "\(attempt) \(uploadId)" }

    init(uploadId: String, attempt: UInt32) {
        self.uploadId = uploadId
        self.attempt = attempt
    }

    init?(taskDescription: String?) {
        guard let parts = taskDescription?.split(separator: " ", maxSplits: 1),
              parts.count == 2, let attempt = UInt32(parts[0])
        else { return nil }
        self.init(uploadId: String(parts[1]), attempt: attempt)
    }
}

/// The background `URLSession` (identifier `com.bgupload.background`) and
/// its delegate: uploads prepared body files and reports progress, the
/// server's answer or the failure to the engine (`bguploadReport*`).
final class BackgroundUploads: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    static let sessionIdentifier = "com.bgupload.background"
    /// Response bytes kept per task (the engine keeps 64 KiB in serverResponse).
    static let maxResponseBytes = 64 * 1024

    private let identifier: String
    /// Serial: delegate calls, and the reports they make, one at a time.
    private let delegateQueue: OperationQueue
    private let lock = NSLock()
    private var session: URLSession?
    private var completionHandler: (() -> Void)?
    /// Response bodies received so far, by task; touched on the delegate queue only.
    private var responses: [Int: Data] = [:]

    init(identifier: String) {
        self.identifier = identifier
        delegateQueue = OperationQueue()
        delegateQueue.maxConcurrentOperationCount = 1
        delegateQueue.name = "com.bgupload.session"
        super.init()
    }

    /// Creates the session once the engine is open: the system then
    /// delivers what happened to its tasks meanwhile.
    func connect() {
        _ = connectedSession()
    }

    /// The app was launched (or woken) for this session's events; the
    /// handler is called once they have all been delivered.
    func handleEvents(completionHandler: @escaping () -> Void) {
        lock.lock()
        self.completionHandler = completionHandler
        lock.unlock()
    }

    func start(_ key: TransferKey, url: String, method: String, headersJson: String, bodyFile: URL,
               allowsMetered: Bool) {
        guard let target = URL(string: url) else {
            // Reported from the delegate queue: never inside the engine's call.
            delegateQueue.addOperation {
                Self.log(key, bguploadReportFailure(
                    key.uploadId, key.attempt, "Invalid server URL: \(url)", -1000, false))
            }
            return
        }
        var request = URLRequest(url: target)
        request.httpMethod = method
        // An "unmetered" upload's task waits in the system for a network
        // that is not expensive (cellular, a hotspot), also while the app is
        // suspended. Constrained (Low Data Mode) networks keep the default.
        request.allowsExpensiveNetworkAccess = allowsMetered
        let headers = (try? JSONSerialization.jsonObject(with: Data(headersJson.utf8))) as? [String: String] ?? [:]
        for (name, value) in headers {
            request.setValue(value, forHTTPHeaderField: name)
        }
        let task = connectedSession().uploadTask(with: request, fromFile: bodyFile)
        task.taskDescription = key.taskDescription
        task.resume()
    }

    func cancel(_ key: TransferKey) {
        connectedSession().getAllTasks { tasks in
            for task in tasks where TransferKey(taskDescription: task.taskDescription) == key {
                task.cancel()
            }
        }
    }

    private func connectedSession() -> URLSession {
        lock.lock()
        defer { lock.unlock() }
        if let session {
            return session
        }
        let configuration = URLSessionConfiguration.background(withIdentifier: identifier)
        configuration.sessionSendsLaunchEvents = true
        configuration.isDiscretionary = false
        let created = URLSession(configuration: configuration, delegate: self, delegateQueue: delegateQueue)
        session = created
        return created
    }

    /// A report the engine refused (it was not open, or the attempt is unknown).
    private static func log(_ key: TransferKey, _ refused: RustString?) {
        if let refused {
            NSLog("bgupload: report for %@ #%u refused: %@", key.uploadId, key.attempt, refused.toString())
        }
    }

    // MARK: URLSessionDataDelegate

    func urlSession(_ session: URLSession, task: URLSessionTask, didSendBodyData bytesSent: Int64,
                    totalBytesSent: Int64, totalBytesExpectedToSend: Int64) {
        guard let key = TransferKey(taskDescription: task.taskDescription) else { return }
        let total = UInt64(max(totalBytesExpectedToSend, totalBytesSent, 0))
        Self.log(key, bguploadReportProgress(key.uploadId, key.attempt, UInt64(max(totalBytesSent, 0)), total))
    }

    /// A 3xx is the server's answer, as the engine's own transport reports
    /// it: the body is not sent again to another URL, so the app's headers
    /// (credentials) never reach another origin. The task ends with the
    /// redirect as its response.
    func urlSession(_ session: URLSession, task: URLSessionTask,
                    willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest,
                    completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        var body = responses[dataTask.taskIdentifier] ?? Data()
        body.append(data.prefix(max(0, Self.maxResponseBytes - body.count)))
        responses[dataTask.taskIdentifier] = body
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let body = responses.removeValue(forKey: task.taskIdentifier) ?? Data()
        guard let key = TransferKey(taskDescription: task.taskDescription) else { return }
        let answer: RustString?
        if let error = error as NSError? {
            // Network errors, a force-quit, a vanished body file: another
            // attempt (with a new body file) may succeed.
            answer = bguploadReportFailure(
                key.uploadId, key.attempt, error.localizedDescription,
                Int32(truncatingIfNeeded: error.code), true)
        } else if let response = task.response as? HTTPURLResponse {
            // Retry-After as sent; the engine reads it (seconds or an HTTP
            // date, against the answer's own Date) under statusPolicy "standard".
            answer = bguploadReportResponse(
                key.uploadId, key.attempt, UInt16(clamping: response.statusCode),
                String(decoding: body, as: UTF8.self),
                response.value(forHTTPHeaderField: "Retry-After") ?? "",
                response.value(forHTTPHeaderField: "Date") ?? "")
        } else {
            answer = bguploadReportFailure(
                key.uploadId, key.attempt, "the server sent no HTTP response", -1011, true)
        }
        Self.log(key, answer)
    }

    func urlSessionDidFinishEvents(forBackgroundURLSession session: URLSession) {
        lock.lock()
        let handler = completionHandler
        completionHandler = nil
        lock.unlock()
        if let handler {
            DispatchQueue.main.async(execute: handler)
        }
    }
}
