import ArgumentParser
import BellowsEngine
import Foundation

@main
struct Bellows: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bellows",
        abstract: "Zero-downtime column changes for PostgreSQL: expand → backfill → verify → contract.",
        discussion: """
        Exit codes: 0 done, 1 refused (a gate is closed) or error findings, 2 usage or I/O error,
        3 a statement failed (rolled back), 4 interrupted (resumable).
        """,
        subcommands: [
            Expand.self, Backfill.self, Verify.self, Contract.self, Rollback.self, Advance.self,
            Status.self, History.self, Approve.self, Diff.self,
            Check.self, Lint.self, Render.self,
            Migrate.self, Migrations.self, Baseline.self, Rehearse.self,
        ]
    )

    /// As ArgumentParser's, except that a usage error (a bad option or argument) exits 2, as
    /// documented, instead of ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}
