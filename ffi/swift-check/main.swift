// Smoke test of the generated iOS bridge, compiled with swiftc against the
// library built for the host (scripts/swift-check.sh). It plays the iOS
// host: an event listener and a transfer host that "uploads" the prepared
// body file by checking it and reporting a response, as a background
// URLSession delegate would.

import Foundation

let waitSeconds = 30.0

func fail(_ message: String) -> Never {
    print("swift-check: FAILED: \(message)")
    exit(1)
}

func expectOk(_ answer: RustString?, _ what: String) {
    if let error = answer {
        fail("\(what) returned \(error.toString())")
    }
}

func expectError(_ answer: RustString?, containing text: String, _ what: String) {
    guard let error = answer?.toString() else { fail("\(what) succeeded; an error was expected") }
    if !error.contains(text) { fail("\(what): \(error) does not contain \(text)") }
}

public final class BgUploadEventListener: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [[String: Any]] = []
    private let arrived = DispatchSemaphore(value: 0)

    func onEvent(json: RustString) {
        let text = json.toString()
        guard let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { fail("event is not a JSON object: \(text)") }
        print("event: \(text)")
        lock.lock()
        events.append(object)
        lock.unlock()
        arrived.signal()
    }

    /// The next event that is not UPLOADING.
    func nextFinal() -> [String: Any] {
        while true {
            if arrived.wait(timeout: .now() + waitSeconds) == .timedOut { fail("no event in time") }
            lock.lock()
            let event = events.removeFirst()
            lock.unlock()
            if (event["state"] as? String) != "UPLOADING" { return event }
        }
    }
}

public final class BgUploadTransferHost: @unchecked Sendable {
    let reports = DispatchQueue(label: "reports")
    let fileBytes: Data
    private let lock = NSLock()
    /// Each attempt's headers, in order: the first is answered 503.
    private(set) var attemptHeaders: [String] = []

    init(fileBytes: Data) { self.fileBytes = fileBytes }

    func startTransfer(upload_id: RustString, attempt: UInt32, url: RustString, method: RustString,
                       headers_json: RustString, body_file_path: RustString, allows_metered: Bool) {
        let id = upload_id.toString()
        let path = body_file_path.toString()
        let headers = headers_json.toString()
        print("startTransfer \(id) #\(attempt) \(method.toString()) \(url.toString()) \(headers) metered: \(allows_metered)")
        guard let body = FileManager.default.contents(atPath: path) else { fail("no body file at \(path)") }
        if !headers.contains("multipart/form-data; boundary=") { fail("no multipart content type: \(headers)") }
        if !headers.contains("Idempotency-Key") { fail("no Idempotency-Key: \(headers)") }
        if !allows_metered { fail("a network \"any\" upload may use a metered network") }
        if body.range(of: fileBytes) == nil { fail("the body file does not hold the file's bytes") }
        lock.lock()
        attemptHeaders.append(headers)
        let first = attemptHeaders.count == 1
        lock.unlock()
        // Report from another queue, as a URLSession delegate would; the
        // first answer is a 503 with Retry-After under "standard".
        reports.async {
            expectOk(bguploadReportProgress(id, attempt, UInt64(body.count), UInt64(body.count)), "progress")
            if first {
                expectOk(bguploadReportResponse(id, attempt, 503, "busy", "1", ""), "503 response")
            } else {
                expectOk(bguploadReportResponse(id, attempt, 201, "{\"ok\":true}", "", ""), "response")
            }
        }
    }

    func cancelTransfer(upload_id: RustString, attempt: UInt32) {
        print("cancelTransfer \(upload_id.toString()) #\(attempt)")
    }
}

let base = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : NSTemporaryDirectory()
let dataDir = base + "/engine"
let filePath = base + "/photo.jpg"
let fileBytes = Data("swift-check file bytes \(UUID().uuidString)".utf8)
_ = FileManager.default.createFile(atPath: filePath, contents: fileBytes)

expectError(bguploadStartUpload("{}"), containing: "call open first", "startUpload before open")
let host = BgUploadTransferHost(fileBytes: fileBytes)
expectOk(bguploadOpenOsOwned(dataDir, "{}", host), "open")
let listener = BgUploadEventListener()
let config = "{\"parallelUploadsLimit\": 2, \"statusPolicy\": \"standard\", \"idempotencyKey\": true, \"initialBackoffMillis\": 100}"
expectOk(bguploadInit(config, listener), "init")

expectError(bguploadStartUpload("null"), containing: "Upload Settings object is missing", "null payload")
let refused = listener.nextFinal()
if refused["eventId"] != nil || (refused["state"] as? String) != "FAILED" { fail("refusal event \(refused)") }

// Any text is an id, as in the reference (a path-like one included).
let id = "../swift check/\(UUID().uuidString)"
let payload = "{\"id\":\"\(id)\",\"filePath\":\"file://\(filePath)\",\"serverUrl\":\"https://example.invalid/up\"}"
expectOk(bguploadStartUpload(payload), "startUpload")
let uploaded = listener.nextFinal()
guard (uploaded["state"] as? String) == "UPLOADED", (uploaded["id"] as? String) == id,
      (uploaded["statusCode"] as? Int) == 201, let eventId = uploaded["eventId"] as? String,
      UInt64(eventId) != nil
else { fail("unexpected event \(uploaded)") }
if host.attemptHeaders.count != 2 { fail("503 then 201: \(host.attemptHeaders)") }
func key(_ headers: String) -> String? {
    guard let data = headers.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return object["Idempotency-Key"] as? String
}
if key(host.attemptHeaders[0]) == nil || key(host.attemptHeaders[0]) != key(host.attemptHeaders[1]) {
    fail("one Idempotency-Key across attempts: \(host.attemptHeaders)")
}
let listing = bguploadGetUploads().toString()
if !listing.contains("\"uploads\":[]") || !listing.contains("\"unacknowledgedEvents\":1") {
    fail("listing before the acknowledgement: \(listing)")
}
expectError(bguploadUpdateHeaders(id, "{}"), containing: "is not in progress", "updateHeaders of an ended upload")
expectError(bguploadPauseUpload(""), containing: "Upload ID is required", "pauseUpload without id")
expectOk(bguploadPauseUpload("nobody"), "pauseUpload of an unknown id")
expectOk(bguploadResumeUpload("nobody"), "resumeUpload of an unknown id")
expectOk(bguploadSetNetwork(true, false), "setNetwork")
expectOk(bguploadAcknowledgeEvent(eventId), "acknowledgeEvent")
expectOk(bguploadAcknowledgeEvent("x-coredata://123/UploadEvent/p1"), "an eventId never issued")
expectError(bguploadAcknowledgeEvent(""), containing: "Event ID is required", "empty eventId")
expectOk(bguploadSetNetworkReachable(true), "setNetworkReachable")
expectOk(bguploadDestroy(), "destroy")
expectOk(bguploadClose(), "close")
if !bguploadGetUploads().toString().contains("\"error\"") { fail("getUploads after close") }
print("swift-check: ok")
