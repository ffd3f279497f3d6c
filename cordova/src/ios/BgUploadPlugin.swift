@preconcurrency import Cordova
import Foundation

/// The Cordova service "BgUpload" behind www/FileTransferManager.js.
/// Actions (each argument a JSON text or an id, as the JS sends them):
///
/// - `initManager [configJson]`: the callback is kept and receives every
///   event as an object; an error ends it.
/// - `startUpload [payloadJson]`, `removeUpload [id]`,
///   `acknowledgeEvent [eventId]`, `destroy []`, `pauseUpload [id]`,
///   `resumeUpload [id]`, `updateHeaders [id, headersJson]`: one answer,
///   success without a value or the error message.
/// - `getUploads []`: one answer, the listing object
///   (`{uploads, unacknowledgedEvents}`) or the error message.
///
/// Every action runs on the engine's command queue, in the order the
/// WebView sent them. A page reload detaches the callback (the new page's
/// init attaches its own and gets every unacknowledged event again);
/// uploads go on.
@objc(BgUploadPlugin)
final class BgUploadPlugin: CDVPlugin {
    private let engine = BgUploadEngine.shared

    override func pluginInitialize() {
        super.pluginInitialize()
        // Loaded at startup (onload): uploads left from an earlier run
        // resume, and the background session's pending reports come in.
        let engine = self.engine
        engine.submit { _ = engine.ensureOpen() }
    }

    @objc(initManager:)
    func initManager(_ command: CDVInvokedUrlCommand) {
        let configJson = command.argument(at: 0) as? String
        let callbackId: String = command.callbackId
        let engine = self.engine
        let delegate = commandDelegate
        engine.submit {
            let error = engine.attach(configJson: configJson) { event in
                let result = CDVPluginResult(status: .ok, messageAs: event)
                result.setKeepCallbackAs(true)
                delegate?.send(result, callbackId: callbackId)
            }
            if let error {
                delegate?.send(CDVPluginResult(status: .error, messageAs: error), callbackId: callbackId)
            }
        }
    }

    @objc(startUpload:)
    func startUpload(_ command: CDVInvokedUrlCommand) {
        let payloadJson = command.argument(at: 0) as? String
        answer(command) { $0.startUpload(payloadJson: payloadJson) }
    }

    @objc(removeUpload:)
    func removeUpload(_ command: CDVInvokedUrlCommand) {
        let id = command.argument(at: 0) as? String
        answer(command) { $0.removeUpload(id: id) }
    }

    @objc(acknowledgeEvent:)
    func acknowledgeEvent(_ command: CDVInvokedUrlCommand) {
        let eventId = command.argument(at: 0) as? String
        answer(command) { $0.acknowledgeEvent(eventId: eventId) }
    }

    @objc(destroy:)
    func destroy(_ command: CDVInvokedUrlCommand) {
        answer(command) { $0.detach() }
    }

    @objc(pauseUpload:)
    func pauseUpload(_ command: CDVInvokedUrlCommand) {
        let id = command.argument(at: 0) as? String
        answer(command) { $0.pauseUpload(id: id) }
    }

    @objc(resumeUpload:)
    func resumeUpload(_ command: CDVInvokedUrlCommand) {
        let id = command.argument(at: 0) as? String
        answer(command) { $0.resumeUpload(id: id) }
    }

    @objc(updateHeaders:)
    func updateHeaders(_ command: CDVInvokedUrlCommand) {
        let id = command.argument(at: 0) as? String
        let headersJson = command.argument(at: 1) as? String
        answer(command) { $0.updateHeaders(id: id, headersJson: headersJson) }
    }

    @objc(getUploads:)
    func getUploads(_ command: CDVInvokedUrlCommand) {
        let callbackId: String = command.callbackId
        let engine = self.engine
        let delegate = commandDelegate
        engine.submit {
            let result: CDVPluginResult
            switch engine.getUploads() {
            case .success(let listing):
                result = CDVPluginResult(status: .ok, messageAs: listing)
            case .failure(let failure):
                result = CDVPluginResult(status: .error, messageAs: failure.message)
            }
            delegate?.send(result, callbackId: callbackId)
        }
    }

    /// The page is reloading or navigating: its callback is gone.
    override func onReset() {
        let engine = self.engine
        engine.submit { _ = engine.detach() }
    }

    /// Runs `call` on the command queue and answers `command` with its outcome.
    private func answer(_ command: CDVInvokedUrlCommand,
                        _ call: @escaping @Sendable (BgUploadEngine) -> String?) {
        let callbackId: String = command.callbackId
        let engine = self.engine
        let delegate = commandDelegate
        engine.submit {
            let result = call(engine).map { CDVPluginResult(status: .error, messageAs: $0) }
                ?? CDVPluginResult(status: .ok)
            delegate?.send(result, callbackId: callbackId)
        }
    }
}
