import Foundation

/// Runs one hook command: `/bin/sh -c COMMAND` in a directory, with the event on standard input
/// and the environment given, its standard output and error read together while it runs (so a
/// chatty hook never blocks on a full pipe), stopped at its timeout (SIGTERM, then SIGKILL after
/// a grace period, to its process group when it leads one) or when `shouldStop` says so.
struct HookProcess {
    var command: String
    var directory: String
    var environment: [String: String]
    var input: Data
    var timeoutSeconds: Double
    var killGraceSeconds: Double
    var shouldStop: @Sendable () -> Bool = { false }

    /// What the hook did.
    struct Result: Sendable, Hashable {
        /// The exit status, nil when a signal ended it or it could not start.
        var exitCode: Int32?
        /// The signal that ended it.
        var signal: Int32?
        var timedOut = false
        /// It was stopped because Bellows was asked to stop (SIGINT/SIGTERM).
        var stopped = false
        /// Why it could not start.
        var launchError: String?
        /// Standard output and error as written, interleaved.
        var output = Data()
        var outputBytes = 0
        var seconds: Double = 0

        var succeeded: Bool { exitCode == 0 && !timedOut && !stopped && launchError == nil }
    }

    /// Keeps at most this much of a hook's output in memory: its start and its end.
    static let keptHead = 16 * 1024
    static let keptTail = 48 * 1024

    func run() -> Result {
        let started = Date()
        var result = launchAndWait(started: started)
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    private func launchAndWait(started: Date) -> Result {
        var result = Result()
        // The event goes in through a file unlinked at once: nothing to write into a pipe the
        // hook may never read (no blocking, no SIGPIPE).
        let inputPath = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-hook-\(UUID().uuidString).json")
        guard FileManager.default.createFile(atPath: inputPath, contents: input, attributes: [.posixPermissions: 0o600]),
              let stdin = FileHandle(forReadingAtPath: inputPath) else {
            result.launchError = "cannot write the event to a temporary file in \(NSTemporaryDirectory())"
            return result
        }
        unlink(inputPath)
        defer { try? stdin.close() }

        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = environment
        process.standardInput = stdin
        process.standardOutput = pipe
        process.standardError = pipe
        // The hook inherits the spawning thread's signal mask: a thread that blocks SIGTERM
        // (a test runner's, Dispatch's) would make the hook deaf to its timeout's SIGTERM.
        var unblock = sigset_t()
        var previous = sigset_t()
        sigemptyset(&unblock)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        do {
            try process.run()
        } catch {
            result.launchError = "cannot start /bin/sh in \(directory): \(error.localizedDescription)"
            try? pipe.fileHandleForReading.close()
            try? pipe.fileHandleForWriting.close()
            return result
        }
        // Only the hook keeps the write end open: its end of file is the hook's.
        try? pipe.fileHandleForWriting.close()
        let readFD = pipe.fileHandleForReading.fileDescriptor
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        var head = Data()
        var tail = Data()
        func drain() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if count > 0 {
                    result.outputBytes += count
                    var chunk = Data(buffer[0..<count])
                    if head.count < Self.keptHead {
                        let room = Self.keptHead - head.count
                        head.append(chunk.prefix(room))
                        chunk = chunk.count > room ? chunk.suffix(from: chunk.startIndex + room) : Data()
                    }
                    tail.append(chunk)
                    if tail.count > 2 * Self.keptTail { tail = Data(tail.suffix(Self.keptTail)) }
                    continue
                }
                if count == 0 { return false } // end of file
                return errno == EINTR ? true : errno == EAGAIN || errno == EWOULDBLOCK
            }
        }

        let deadline = started.addingTimeInterval(timeoutSeconds)
        var terminatedAt: Date?
        var open = true
        while process.isRunning {
            if open {
                var poller = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&poller, 1, 20)
                open = drain()
            } else {
                usleep(20_000)
            }
            let now = Date()
            if let terminatedAt {
                if now.timeIntervalSince(terminatedAt) >= killGraceSeconds { signalHook(process, SIGKILL) }
            } else if now >= deadline || shouldStop() {
                if now >= deadline { result.timedOut = true } else { result.stopped = true }
                signalHook(process, SIGTERM)
                terminatedAt = now
            }
        }
        process.waitUntilExit()
        // What it wrote before it ended; a background child still holding the pipe is not waited for.
        if open { _ = drain() }
        try? pipe.fileHandleForReading.close()
        switch process.terminationReason {
        case .exit: result.exitCode = process.terminationStatus
        case .uncaughtSignal: result.signal = process.terminationStatus
        @unknown default: result.exitCode = process.terminationStatus
        }
        let end = Data(tail.suffix(Self.keptTail))
        let omitted = result.outputBytes - head.count - end.count
        result.output = omitted > 0 ? head + Data("\n…(\(omitted) bytes left out)…\n".utf8) + end : head + end
        return result
    }

    /// Signals the hook's process group when it leads one (its children go too), else the hook.
    private func signalHook(_ process: Process, _ signal: Int32) {
        let pid = process.processIdentifier
        guard pid > 0 else { return }
        if getpgid(pid) == pid { kill(-pid, signal) } else { kill(pid, signal) }
    }
}
