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

        // posix_spawn and waitpid, not Foundation's Process: Process took the hook for running as
        // long as a background child it left kept the output pipe open, so `notify &` "timed
        // out" and `setsid daemon &` made the timeout meaningless (hostile-f 01). The hook leads
        // its own process group (its children share it and are signalled with it at the
        // timeout), with every signal unblocked and at its default action.
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            result.launchError = "cannot make a pipe for the hook's output: \(String(cString: strerror(errno)))"
            return result
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let readFD = fds[0]
        defer { close(readFD) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin.fileDescriptor, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        // The shell enters the project directory, then becomes the hook's shell (same pid, so
        // still the group's leader): posix_spawn has no portable chdir.
        let argv: [String] = ["/bin/sh", "-c", "cd -- \"$0\" && exec /bin/sh -c \"$1\"", directory, command]
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in cEnvironment { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, &cArguments, &cEnvironment)
        // Only the hook (and what it starts) keeps the write end open: its end of file is theirs.
        close(fds[1])
        guard spawned == 0 else {
            result.launchError = "cannot start /bin/sh in \(directory): \(String(cString: strerror(spawned)))"
            return result
        }
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
        var status: Int32 = 0
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid || (waited == -1 && errno != EINTR) { break }
            if open {
                var poller = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&poller, 1, 20)
                open = drain()
            } else {
                usleep(20_000)
            }
            let now = Date()
            if let terminatedAt {
                if now.timeIntervalSince(terminatedAt) >= killGraceSeconds { kill(-pid, SIGKILL) }
            } else if now >= deadline || shouldStop() {
                if now >= deadline { result.timedOut = true } else { result.stopped = true }
                kill(-pid, SIGTERM)
                terminatedAt = now
            }
        }
        // What it wrote before it ended; a background child still holding the pipe is not waited for.
        if open { _ = drain() }
        if (status & 0x7f) == 0 {
            result.exitCode = (status >> 8) & 0xff
        } else {
            result.signal = status & 0x7f
        }
        let end = Data(tail.suffix(Self.keptTail))
        let omitted = result.outputBytes - head.count - end.count
        result.output = omitted > 0 ? head + Data("\n…(\(omitted) bytes left out)…\n".utf8) + end : head + end
        return result
    }
}
