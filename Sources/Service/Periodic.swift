import ServiceLifecycle

/// Runs `body` now and then every `interval` until the service group stops. Graceful shutdown does not
/// cancel a service, so the wait between runs ends as soon as shutdown begins.
func repeatUntilShutdown(every interval: Duration, _ body: () async -> Void) async {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
        await body()
        do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
    }
}
