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

    init(fileBytes: Data) { self.fileBytes = fileBytes }

    func startTransfer(upload_id: RustString, attempt: UInt32, url: RustString, method: RustString,
                       headers_json: RustString, body_file_path: RustString) {
        let id = upload_id.toString()
        let path = body_file_path.toString()
        let headers = headers_json.toString()
        print("startTransfer \(id) #\(attempt) \(method.toString()) \(url.toString()) \(headers)")
        guard let body = FileManager.default.contents(atPath: path) else { fail("no body file at \(path)") }
        if !headers.contains("multipart/form-data; boundary=") { fail("no multipart content type: \(headers)") }
        if body.range(of: fileBytes) == nil { fail("the body file does not hold the file's bytes") }
        // Report from another queue, as a URLSession delegate would.
        reports.async {
            expectOk(bguploadReportProgress(id, attempt, UInt64(body.count), UInt64(body.count)), "progress")
            expectOk(bguploadReportResponse(id, attempt, 201, "{\"ok\":true}"), "response")
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
expectOk(bguploadOpenOsOwned(dataDir, "{}", BgUploadTransferHost(fileBytes: fileBytes)), "open")
let listener = BgUploadEventListener()
expectOk(bguploadInit("{\"parallelUploadsLimit\": 2}", listener), "init")

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
expectOk(bguploadAcknowledgeEvent(eventId), "acknowledgeEvent")
expectOk(bguploadAcknowledgeEvent("x-coredata://123/UploadEvent/p1"), "an eventId never issued")
expectError(bguploadAcknowledgeEvent(""), containing: "Event ID is required", "empty eventId")
expectOk(bguploadSetNetworkReachable(true), "setNetworkReachable")
expectOk(bguploadDestroy(), "destroy")
expectOk(bguploadClose(), "close")
print("swift-check: ok")
