import Foundation

/// A private, throwaway PostgreSQL cluster started from the server binaries on the machine:
/// its own data directory and Unix socket in a temporary directory, no TCP. Run as root, the
/// server runs as the `postgres` system user (PostgreSQL refuses to run as root).
public final class ScratchCluster: @unchecked Sendable {
    public let directory: String
    public let port: Int
    public let binDirectory: String
    let runAs: String?
    private var running = false

    public var socketDirectory: String { (directory as NSString).appendingPathComponent("socket") }
    public var dataDirectory: String { (directory as NSString).appendingPathComponent("data") }

    /// A conninfo for `database` on this cluster.
    public func conninfo(database: String = "postgres") -> String {
        "host=\(socketDirectory) port=\(port) user=postgres dbname=\(database)"
    }

    /// Where the server binaries are: `explicit` (`--pg-bindir`), else `$BELLOWS_PG_BINDIR`, else
    /// `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`. A directory named
    /// explicitly (flag or environment) that holds no `initdb` is an error, not a silent fallback
    /// to another version.
    public static func findBinDirectory(explicit: String? = nil) throws -> String {
        let fm = FileManager.default
        for (source, named) in [("--pg-bindir", explicit), ("BELLOWS_PG_BINDIR", ProcessInfo.processInfo.environment["BELLOWS_PG_BINDIR"])] {
            guard let dir = named, !dir.isEmpty else { continue }
            guard fm.isExecutableFile(atPath: dir + "/initdb"), fm.isExecutableFile(atPath: dir + "/pg_ctl") else {
                throw BellowsError.usage("\(source) \(dir) holds no PostgreSQL server binaries (initdb, pg_ctl)")
            }
            return dir
        }
        if let output = try? run("/bin/sh", ["-c", "pg_config --bindir 2>/dev/null"], as: nil).output.trimmingCharacters(in: .whitespacesAndNewlines),
           !output.isEmpty, fm.fileExists(atPath: output + "/initdb") { return output }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() where fm.fileExists(atPath: "/usr/lib/postgresql/\(version)/bin/initdb") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        throw BellowsError.usage("no PostgreSQL server binaries found (initdb); install the `postgresql` package, pass --pg-bindir or set BELLOWS_PG_BINDIR")
    }

    /// What `postgres --version` says in `binDirectory` (e.g. `postgres (PostgreSQL) 18.6`).
    public var serverVersionText: String {
        ((try? Self.run(binDirectory + "/postgres", ["--version"], as: nil).output) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Creates and starts a cluster from the binaries in `binDirectory` (see `findBinDirectory`).
    /// `settings` become `-c name=value` server options.
    public static func start(binDirectory: String? = nil, settings: [String: String] = [:]) throws -> ScratchCluster {
        let bin = try findBinDirectory(explicit: binDirectory)
        let root = getuid() == 0
        let base = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-rehearsal-\(getpid())-\(UInt16.random(in: 0...UInt16.max))")
        let cluster = ScratchCluster(directory: base, port: Int.random(in: 20_000...60_000), binDirectory: bin, runAs: root ? "postgres" : nil)
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: cluster.socketDirectory, withIntermediateDirectories: true)
            if root {
                // The server runs as postgres: it must own its directories and reach them.
                _ = try run("/bin/chmod", ["755", base], as: nil)
                _ = try run("/bin/chown", ["-R", "postgres", base], as: nil)
            }
            let initdb = try run(bin + "/initdb", ["-D", cluster.dataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"], as: cluster.runAs)
            guard initdb.status == 0 else { throw BellowsError.usage("initdb failed: \(initdb.output)") }
            var options = "-c listen_addresses= -k \(cluster.socketDirectory) -p \(cluster.port) -c fsync=off -c full_page_writes=off -c max_connections=100"
            for (key, value) in settings.sorted(by: { $0.key < $1.key }) { options += " -c \(key)=\(value)" }
            let log = (cluster.directory as NSString).appendingPathComponent("server.log")
            let start = try run(bin + "/pg_ctl", ["-D", cluster.dataDirectory, "-o", options, "-l", log, "-w", "-t", "30", "start"], as: cluster.runAs)
            guard start.status == 0 else {
                let serverLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw BellowsError.usage("the scratch PostgreSQL did not start: \(start.output)\n\(serverLog)")
            }
            cluster.running = true
            return cluster
        } catch {
            try? fm.removeItem(atPath: base)
            throw error
        }
    }

    /// A streaming replica of this cluster (`pg_basebackup -R`, WAL streamed), started in its
    /// own directory on its own port and socket: the primary's `pg_stat_replication` lists it.
    /// `settings` become `-c name=value` options of the replica (`wal_receiver_status_interval`…).
    public func startStreamingReplica(settings: [String: String] = [:]) throws -> ScratchCluster {
        let base = directory + "-replica-\(UInt16.random(in: 0...UInt16.max))"
        let replica = ScratchCluster(directory: base, port: Int.random(in: 20_000...60_000), binDirectory: binDirectory, runAs: runAs)
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: replica.socketDirectory, withIntermediateDirectories: true)
            if let runAs {
                _ = try Self.run("/bin/chmod", ["755", base], as: nil)
                _ = try Self.run("/bin/chown", ["-R", runAs, base], as: nil)
            }
            let backup = try Self.run(binDirectory + "/pg_basebackup", ["-D", replica.dataDirectory, "-R", "-X", "stream", "-c", "fast",
                                                                        "-h", socketDirectory, "-p", "\(port)", "-U", "postgres", "--no-sync"], as: runAs)
            guard backup.status == 0 else { throw BellowsError.usage("pg_basebackup failed: \(backup.output)") }
            var options = "-c listen_addresses= -k \(replica.socketDirectory) -p \(replica.port) -c fsync=off -c hot_standby=on"
            for (key, value) in settings.sorted(by: { $0.key < $1.key }) { options += " -c \(key)=\(value)" }
            let log = (base as NSString).appendingPathComponent("server.log")
            let start = try Self.run(binDirectory + "/pg_ctl", ["-D", replica.dataDirectory, "-o", options, "-l", log, "-w", "-t", "30", "start"], as: runAs)
            guard start.status == 0 else {
                let serverLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw BellowsError.usage("the replica did not start: \(start.output)\n\(serverLog)")
            }
            replica.running = true
            return replica
        } catch {
            try? fm.removeItem(atPath: base)
            throw error
        }
    }

    private init(directory: String, port: Int, binDirectory: String, runAs: String?) {
        self.directory = directory
        self.port = port
        self.binDirectory = binDirectory
        self.runAs = runAs
    }

    /// Stops the server and removes its directory.
    public func destroy() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func stop() {
        guard running else { return }
        _ = try? Self.run(binDirectory + "/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"], as: runAs)
        running = false
    }

    /// Restarts the server (`pg_ctl restart -m fast` or `immediate`) with the options it was
    /// started with: every session ends, as in a production restart or crash.
    public func restart(mode: String = "fast") throws {
        let log = (directory as NSString).appendingPathComponent("server.log")
        let restart = try Self.run(binDirectory + "/pg_ctl", ["-D", dataDirectory, "-m", mode, "-l", log, "-w", "-t", "30", "restart"], as: runAs)
        guard restart.status == 0 else { throw BellowsError.usage("the scratch PostgreSQL did not restart: \(restart.output)") }
    }

    /// Leave the server running when this object goes away (`--keep`).
    public var keepRunning = false

    deinit { if !keepRunning { stop() } }

    /// Runs a program (as `user` via runuser when given) and returns its exit status and output.
    /// Uses posix_spawn and waitpid directly: Foundation's Process can miss the exit of a
    /// program whose child daemonises (pg_ctl start).
    @discardableResult
    /// `environment` is added to this process's environment for the program.
    static func run(_ program: String, _ arguments: [String], as user: String?,
                    environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let argv = user.map { ["/usr/sbin/runuser", "-u", $0, "--", program] + arguments } ?? [program] + arguments
        let outputPath = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log")
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        var cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.isEmpty ? [] : merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in cEnvironment { free(pointer) } }
        let spawned = environment.isEmpty ? posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
            : posix_spawn(&pid, argv[0], &actions, nil, &cArguments, &cEnvironment)
        guard spawned == 0 else {
            throw BellowsError.usage("could not run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }
}
