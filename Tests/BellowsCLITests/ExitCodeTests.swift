import Foundation
import Testing

/// Exit codes as scripts see them. No database: a server that is not there.
@Suite struct ExitCodeTests {
    /// Nothing listens on port 1 of the loopback: libpq's connection is refused at once.
    static let nowhere = "postgresql://bellows@127.0.0.1:1/nowhere?connect_timeout=3"

    /// Every command that opens a connection, with what it needs to get that far.
    static let connecting: [[String]] = [
        ["expand", "001"], ["backfill", "001"], ["verify", "001"], ["contract", "001"], ["rollback", "001"],
        ["advance", "001"], ["status"], ["history"], ["approve", "001", "app-reads-email-address"], ["diff", "001"],
        ["check", "-d", nowhere], ["render", "001", "--database", nowhere], ["migrate"], ["migrate", "--dry-run"],
        ["migrations", "status"], ["migrate", "rollback", "001", "--yes"], ["baseline"], ["rehearse", "-d", nowhere],
        ["rehearse", "--from", nowhere], ["pause", "001"], ["resume", "001"], ["throttle", "001", "--clear"],
        ["wait", "001", "--for", "verified"],
    ]

    @Test(arguments: connecting)
    func aServerThatCannotBeReachedExitsFiveWithAHint(_ arguments: [String]) throws {
        let root = try CheckCommandTests.exampleProject()
        defer { CheckCommandTests.remove(root) }
        if arguments == ["baseline"] {
            // A baseline is for a project without migrations (else refused before connecting).
            try FileManager.default.removeItem(atPath: root + "/migrations")
            try FileManager.default.createDirectory(atPath: root + "/migrations", withIntermediateDirectories: true)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["BELLOWS_DATABASE"] = Self.nowhere
        let run = try CheckCommandTests.bellows(arguments, in: root, environment: environment)
        #expect(run.status == 5, "\(arguments): exit \(run.status)\n\(run.stdout)\(run.stderr)")
        for named in ["-d", "BELLOWS_DATABASE", "PGHOST", ".pgpass"] {
            #expect(run.stderr.contains(named), "\(arguments): the hint names \(named):\n\(run.stderr)")
        }
        #expect(run.stderr.contains("could not connect"), "\(run.stderr)")
    }

    @Test func theJSONOfAConnectionFailureSaysSo() throws {
        let root = try CheckCommandTests.exampleProject()
        defer { CheckCommandTests.remove(root) }
        let run = try CheckCommandTests.bellows(["status", "--format", "json", "-d", Self.nowhere], in: root)
        #expect(run.status == 5)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        #expect(object["outcome"] as? String == "error")
        let error = try #require(object["error"] as? [String: Any], "\(run.stdout)")
        #expect(error["kind"] as? String == "cannot-connect")
        #expect((error["hint"] as? String)?.contains("BELLOWS_DATABASE") == true)
    }

    /// The codes in `bellows --help` are the ones the commands use, 0 to 7 (6 and 7: `wait`).
    @Test func helpListsEveryExitCode() throws {
        let help = try CheckCommandTests.bellows(["--help"])
        #expect(help.status == 0)
        for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "6 ", "7 "] {
            #expect(help.stdout.contains("\n  " + code) || help.stdout.contains(" " + code), "\(code): \(help.stdout)")
        }
        #expect(help.stdout.contains("cannot connect"), "\(help.stdout)")
        let wait = try CheckCommandTests.bellows(["wait", "--help"])
        #expect(wait.stdout.contains("6 timed out") && wait.stdout.contains("7 the plan was rolled back"), "\(wait.stdout)")
    }
}
