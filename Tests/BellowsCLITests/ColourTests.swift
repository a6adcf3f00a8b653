import Foundation
import Testing

/// Colour as scripts and people see it: decided per stream, by NO_COLOR, FORCE_COLOR and
/// TERM=dumb. A failing `status` (no server on port 1) writes a red "✗" line on stderr.
@Suite struct ColourTests {
    static let escape = "\u{1B}["
    static let failing = ["status", "-d", ExitCodeTests.nowhere]

    /// Runs bellows with one stream on a pseudo-terminal (python3's pty module) and the other in
    /// a file: what each stream received.
    static func onATerminal(_ stream: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> (terminal: String, file: String) {
        let binary = try #require(CheckCommandTests.binary, "no bellows executable")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-colour-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let script = """
            import os, pty, subprocess, sys
            stream, path, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
            master, slave = pty.openpty()
            other = open(path, "wb")
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                       stdout=slave if stream == "stdout" else other,
                                       stderr=slave if stream == "stderr" else other)
            os.close(slave)
            data = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            process.wait()
            sys.stdout.buffer.write(data)
            sys.exit(process.returncode)
            """
        var environment = ProcessInfo.processInfo.environment
        for key in ["NO_COLOR", "FORCE_COLOR"] { environment[key] = nil }
        environment["TERM"] = "xterm"
        environment.merge(extra) { $1 }
        let run = try CheckCommandTests.run(URL(fileURLWithPath: "/usr/bin/env"),
                                            ["python3", "-c", script, stream, file.path, binary.path] + arguments, environment: environment)
        #expect(run.status == 5, "\(run.stdout)\(run.stderr)")
        return (run.stdout, (try? String(contentsOf: file, encoding: .utf8)) ?? "")
    }

    @Test func stderrIsColouredWhenStderrIsATerminal() throws {
        // stdout a terminal, stderr a log file: no escape codes in the log.
        let log = try Self.onATerminal("stdout", Self.failing)
        #expect(log.file.contains("✗"), "\(log.file)")
        #expect(!log.file.contains(Self.escape), "escape codes in 2>log: \(log.file.debugDescription)")
        // stderr a terminal: red.
        let screen = try Self.onATerminal("stderr", Self.failing)
        #expect(screen.terminal.contains(Self.escape + "31m✗"), "\(screen.terminal.debugDescription)")
    }

    @Test func noColorAndTermDumbTurnItOff() throws {
        for environment in [["NO_COLOR": "1"], ["TERM": "dumb"], ["FORCE_COLOR": "0"], ["NO_COLOR": "1", "FORCE_COLOR": "1"]] {
            let screen = try Self.onATerminal("stderr", Self.failing, environment: environment)
            #expect(screen.terminal.contains("✗"), "\(environment)")
            #expect(!screen.terminal.contains(Self.escape), "\(environment): \(screen.terminal.debugDescription)")
        }
    }

    @Test func forceColorColoursAFile() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = nil
        environment["FORCE_COLOR"] = "1"
        let forced = try CheckCommandTests.bellows(Self.failing, environment: environment)
        #expect(forced.stderr.contains(Self.escape + "31m✗"), "\(forced.stderr.debugDescription)")
        environment["FORCE_COLOR"] = nil
        let plain = try CheckCommandTests.bellows(Self.failing, environment: environment)
        #expect(plain.stderr.contains("✗") && !plain.stderr.contains(Self.escape), "\(plain.stderr.debugDescription)")
    }
}
