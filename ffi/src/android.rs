//! Android: `jni` exports for the Java class `com.bgupload.Native`.
//!
//! ```java
//! package com.bgupload;
//! public final class Native {
//!     public static native String initAndroid(Object context); // android.content.Context
//!     public static native String open(String dataDir, String optionsJson);
//!     public static native String init(String configJson, EventListener listener);
//!     public static native String startUpload(String payloadJson);
//!     public static native String removeUpload(String id);
//!     public static native String acknowledgeEvent(String eventId);
//!     public static native String destroy();
//!     public static native String pauseUpload(String id);
//!     public static native String resumeUpload(String id);
//!     public static native String updateHeaders(String id, String headersJson);
//!     public static native String getUploads(); // the listing, or {"error": message}
//!     public static native String setNetworkReachable(boolean reachable);
//!     public static native String setNetwork(boolean reachable, boolean metered);
//!     public static native String close();
//! }
//! public interface EventListener { void onEvent(String json); }
//! ```
//!
//! On Android, `initAndroid(context)` must come first (once per process):
//! HTTPS certificate checks use the platform verifier
//! (`rustls-platform-verifier`), which calls into the app's `Context`; the
//! app must also ship that crate's small Android component (see
//! `ffi/scripts/build-android.sh`). Elsewhere it does nothing.
//!
//! Every method returns `null` on success or the error message. They never
//! throw for an engine error, a bad argument or a panic (those are all
//! messages); only a JNI failure of the VM itself (out of memory while
//! making the message string) surfaces as a `RuntimeException`.
//!
//! `listener.onEvent(json)` is called on the engine's event thread, which
//! is attached to the JVM permanently on its first event (and detached when
//! it ends, after `close`). The listener is held as a JNI global reference,
//! replaced by the next `init`, deleted by `destroy` and `close`. An
//! exception thrown by `onEvent` is cleared and ignored (the event is not
//! delivered again until the next `init`, if unacknowledged).

use crate::core;
use crate::error::FfiError;
use jni::errors::ThrowRuntimeExAndDefault;
use jni::objects::{JClass, JObject, JString};
use jni::refs::Global;
use jni::vm::JavaVM;
use jni::{Env, EnvUnowned, JValue, jni_mangle, jni_sig, jni_str};
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `call` and turns its outcome into the Java return value: `null`
/// for success, the message otherwise.
fn answer<'local>(
    unowned: &mut EnvUnowned<'local>,
    call: impl FnOnce(&mut Env<'local>) -> Result<(), FfiError>,
) -> JString<'local> {
    unowned
        .with_env(|env| -> jni::errors::Result<JString<'local>> {
            let outcome = crate::error::catch_panic(|| call(env));
            match outcome {
                Ok(()) => Ok(JString::default()),
                Err(error) => JString::from_str(env, error.to_string()),
            }
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}

/// A Java string argument as Rust text; `null` is `None`.
fn text(env: &Env<'_>, value: &JString<'_>, name: &str) -> Result<Option<String>, FfiError> {
    if value.is_null() {
        return Ok(None);
    }
    value
        .try_to_string(env)
        .map(Some)
        .map_err(|error| FfiError::InvalidArgument(format!("{name}: unreadable string: {error}")))
}

/// Whether `initAndroid` succeeded (always true off Android).
static PLATFORM_TLS_READY: AtomicBool = AtomicBool::new(!cfg!(target_os = "android"));

#[jni_mangle("com.bgupload.Native")]
pub fn init_android<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    context: JObject<'local>,
) -> JString<'local> {
    answer(&mut unowned, |env| {
        if context.is_null() {
            return Err(FfiError::InvalidArgument(
                "context is required (the application Context)".to_owned(),
            ));
        }
        platform_tls(env, context)?;
        PLATFORM_TLS_READY.store(true, Ordering::SeqCst);
        Ok(())
    })
}

#[cfg(target_os = "android")]
fn platform_tls(env: &mut Env<'_>, context: JObject<'_>) -> Result<(), FfiError> {
    rustls_platform_verifier::android::init_with_env(env, context).map_err(|error| {
        FfiError::InvalidArgument(format!(
            "context: cannot set up HTTPS certificate checks: {error}"
        ))
    })
}

#[cfg(not(target_os = "android"))]
fn platform_tls(_env: &mut Env<'_>, _context: JObject<'_>) -> Result<(), FfiError> {
    // The platform verifier needs no Java objects off Android.
    Ok(())
}

#[jni_mangle("com.bgupload.Native")]
pub fn open<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    data_dir: JString<'local>,
    options_json: JString<'local>,
) -> JString<'local> {
    answer(&mut unowned, |env| {
        if !PLATFORM_TLS_READY.load(Ordering::SeqCst) {
            return Err(FfiError::InvalidArgument(
                "call Native.initAndroid(context) before open: HTTPS certificate checks need the application Context"
                    .to_owned(),
            ));
        }
        let data_dir = text(env, &data_dir, "dataDir")?;
        let options_json = text(env, &options_json, "optionsJson")?;
        core::open(data_dir.as_deref(), options_json.as_deref())
    })
}

#[jni_mangle("com.bgupload.Native")]
pub fn init<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    config_json: JString<'local>,
    listener: JObject<'local>,
) -> JString<'local> {
    answer(&mut unowned, |env| {
        let config_json = text(env, &config_json, "configJson")?;
        if listener.is_null() {
            return Err(FfiError::InvalidArgument(
                "event handler must be a function".to_owned(),
            ));
        }
        let listener: Global<JObject<'static>> =
            env.new_global_ref(&listener).map_err(|error| {
                FfiError::InvalidArgument(format!("listener: cannot keep a reference: {error}"))
            })?;
        let vm = env
            .get_java_vm()
            .map_err(|error| FfiError::Internal(format!("no Java VM: {error}")))?;
        core::init(config_json.as_deref(), listener_callback(vm, listener))
    })
}

/// The event callback: `listener.onEvent(json)` from the delivery thread,
/// attached to the JVM permanently.
fn listener_callback(
    vm: JavaVM,
    listener: Global<JObject<'static>>,
) -> crate::delivery::EventCallback {
    Box::new(move |json: &str| {
        let delivered = vm.attach_current_thread(|env| -> jni::errors::Result<()> {
            let json = JString::from_str(env, json)?;
            env.call_method(
                &*listener,
                jni_str!("onEvent"),
                jni_sig!((json: java.lang.String) -> void),
                &[JValue::Object(&json)],
            )?;
            Ok(())
        });
        // A throwing listener was already cleared by the attachment; the
        // event is lost for this session only (terminal events come again
        // on the next init until acknowledged).
        drop(delivered);
    })
}

#[jni_mangle("com.bgupload.Native")]
pub fn start_upload<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    payload_json: JString<'local>,
) -> JString<'local> {
    answer(&mut unowned, |env| {
        let payload_json = text(env, &payload_json, "payloadJson")?;
        core::start_upload(payload_json.as_deref())
    })
}

#[jni_mangle("com.bgupload.Native")]
pub fn remove_upload<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    upload_id: JString<'local>,
) -> JString<'local> {
    upload_command(&mut unowned, &upload_id, core::remove_upload)
}

/// A command on one upload id (`removeUpload`, `pauseUpload`,
/// `resumeUpload`).
fn upload_command<'local>(
    unowned: &mut EnvUnowned<'local>,
    upload_id: &JString<'local>,
    command: fn(Option<&str>) -> Result<(), FfiError>,
) -> JString<'local> {
    answer(unowned, |env| {
        let upload_id = text(env, upload_id, "id")?;
        command(upload_id.as_deref())
    })
}

#[jni_mangle("com.bgupload.Native")]
pub fn acknowledge_event<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    event_id: JString<'local>,
) -> JString<'local> {
    answer(&mut unowned, |env| {
        let event_id = text(env, &event_id, "eventId")?;
        core::acknowledge_event(event_id.as_deref())
    })
}

#[jni_mangle("com.bgupload.Native")]
pub fn destroy<'local>(mut unowned: EnvUnowned<'local>, _class: JClass<'local>) -> JString<'local> {
    answer(&mut unowned, |_| core::destroy())
}

#[jni_mangle("com.bgupload.Native")]
pub fn set_network_reachable<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    reachable: jni::sys::jboolean,
) -> JString<'local> {
    answer(&mut unowned, |_| core::set_network_reachable(reachable))
}

#[jni_mangle("com.bgupload.Native")]
pub fn set_network<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    reachable: jni::sys::jboolean,
    metered: jni::sys::jboolean,
) -> JString<'local> {
    answer(&mut unowned, |_| core::set_network(reachable, metered))
}

#[jni_mangle("com.bgupload.Native")]
pub fn pause_upload<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    upload_id: JString<'local>,
) -> JString<'local> {
    upload_command(&mut unowned, &upload_id, core::pause_upload)
}

#[jni_mangle("com.bgupload.Native")]
pub fn resume_upload<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    upload_id: JString<'local>,
) -> JString<'local> {
    upload_command(&mut unowned, &upload_id, core::resume_upload)
}

#[jni_mangle("com.bgupload.Native")]
pub fn update_headers<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    upload_id: JString<'local>,
    headers_json: JString<'local>,
) -> JString<'local> {
    answer(&mut unowned, |env| {
        let upload_id = text(env, &upload_id, "id")?;
        let headers_json = text(env, &headers_json, "headersJson")?;
        core::update_headers(upload_id.as_deref(), headers_json.as_deref())
    })
}

/// The listing's JSON on success, `{"error": message}` otherwise (a
/// listing has no `error` field), so that Java tells them apart.
#[jni_mangle("com.bgupload.Native")]
pub fn get_uploads<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JString<'local> {
    unowned
        .with_env(|env| -> jni::errors::Result<JString<'local>> {
            JString::from_str(env, core::get_uploads_answer())
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}

#[jni_mangle("com.bgupload.Native")]
pub fn close<'local>(mut unowned: EnvUnowned<'local>, _class: JClass<'local>) -> JString<'local> {
    answer(&mut unowned, |_| core::close())
}
