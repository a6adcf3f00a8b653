import ArgumentParser
import BellowsEngine

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
            Status.self, History.self, Approve.self,
            Check.self, Lint.self, Render.self,
            Migrate.self, Migrations.self, Rehearse.self,
        ]
    )
}
