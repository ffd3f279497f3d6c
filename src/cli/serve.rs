//! `bgupload serve`: the embedded upload receiver until Ctrl-C, one line
//! per received file.

use super::display::human_bytes;
use super::{CliResult, Context, ServeArgs};
use bgupload::receiver::{Receiver, ReceiverConfig};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// How often new arrivals are looked for.
const ARRIVAL_POLL: Duration = Duration::from_millis(200);

pub async fn serve(args: ServeArgs) -> CliResult<ExitCode> {
    let mut ctrl_c = super::listen_for_ctrl_c().await;
    let mut config = ReceiverConfig::new(&args.dir, SocketAddr::new(args.host, args.port));
    config.throttle_bytes_per_sec = args.throttle;
    config.max_body_bytes = Some(args.max_body_bytes);
    let receiver = Receiver::start(config).await.context(format!(
        "cannot listen on {}:{} with directory {}",
        args.host,
        args.port,
        args.dir.display()
    ))?;
    out!(
        "listening on {} (files go to {}); Ctrl-C to stop",
        receiver.url(),
        args.dir.display()
    );

    let mut shown = 0u64;
    let mut poll = tokio::time::interval(ARRIVAL_POLL);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = poll.tick() => {
                let received = receiver.received();
                for file in received.iter().filter(|file| file.number > shown) {
                    out!(
                        "received {} {} -> {} ({}, sha256 {}) answered {}",
                        file.method,
                        file.original_filename,
                        file.path_on_disk.display(),
                        human_bytes(file.size),
                        file.sha256,
                        file.status
                    );
                }
                shown = received.last().map_or(shown, |file| file.number);
            }
        }
    }
    eprintln!("stopping the receiver");
    receiver.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
