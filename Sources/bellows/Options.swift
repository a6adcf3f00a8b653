import ArgumentParser
import BellowsEngine
import Foundation

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

enum FindingsFormat: String, ExpressibleByArgument, CaseIterable {
    /// `github`: workflow annotations; `gitlab`: a Code Quality report; `sarif`: SARIF 2.1.0.
    case text, json, github, gitlab, sarif
}

/// Where the project and the database are.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.customLong("database"), .customShort("d")],
            help: "libpq connection string or URI (default: $BELLOWS_DATABASE, then the PG* environment, ~/.pgpass, service files).")
    var database: String?

    @Option(help: "Project directory holding plans/ and migrations/.")
    var project: String = "."

    @Option(help: "Who runs the command, for the audit trail (default: $BELLOWS_ACTOR or user@host).")
    var actor: String?

    @Option(help: "lock_timeout for DDL in milliseconds (default: the plan's backfill.lock_timeout_ms).")
    var lockTimeout: Int?

    @Option(help: "Limit for each concurrent index build in milliseconds (default 0: none; what a waiting build waits for is reported every 5 s).")
    var indexTimeout: Int?

    func engineOptions() -> EngineOptions {
        var options = EngineOptions(conninfo: database ?? ProcessInfo.processInfo.environment["BELLOWS_DATABASE"])
        if let actor { options.actor = actor }
        options.lockTimeoutMilliseconds = lockTimeout
        if let indexTimeout { options.indexTimeoutMilliseconds = indexTimeout }
        return options
    }

    var projectModel: Project { Project(root: project) }
}
