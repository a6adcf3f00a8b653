import ArgumentParser
import BellowsEngine
import Foundation

@main
struct Bellows: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bellows",
        abstract: "Zero-downtime column changes for PostgreSQL: expand → backfill → verify → contract.",
        discussion: """
        Exit codes (each command's --help lists its own):
          0  done; check, lint: no error finding; diff: the file is as expanded
          1  refused, nothing changed (a gate is closed, drift, not confirmed…);
             error findings; a rehearsal violation; diff: the file differs
          2  usage or I/O error (an unknown option or plan, an unreadable file)
          3  a statement failed; its transaction was rolled back
          4  interrupted (signal, lost connection): run the command again to resume
          5  cannot connect to PostgreSQL; nothing was read or changed
          6  wait: timed out before the plan reached the phase
          7  wait: the plan was rolled back meanwhile and cannot reach the phase

        Connection: -d/--database (a libpq URI or key=value string), else $BELLOWS_DATABASE, else \
        libpq's PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ~/.pgpass and service files.

        Environment: BELLOWS_DATABASE (instead of -d), BELLOWS_ACTOR (who is recorded in the audit \
        trail, instead of --actor; default user@host), BELLOWS_PG_BINDIR (rehearse's server and \
        baseline's pg_dump, instead of --pg-bindir), NO_COLOR (no colour), FORCE_COLOR (colour even \
        into a file or pipe; FORCE_COLOR=0: none), TERM=dumb (no colour, no live progress line).
        """,
        version: BuildInfo.versionLine,
        subcommands: [
            Expand.self, Backfill.self, Verify.self, Contract.self, Rollback.self, Advance.self,
            Status.self, History.self, Approve.self, Diff.self,
            Pause.self, Resume.self, Throttle.self, Wait.self, SearchPath.self,
            Check.self, Lint.self, Render.self, Estimate.self,
            Migrate.self, Migrations.self, Baseline.self, Rehearse.self, Archive.self,
        ]
    )

    /// As ArgumentParser's, except that a usage error (a bad option or argument) exits 2, as
    /// documented, instead of ArgumentParser's 64, and that with `--format json` every error
    /// is a JSON document on stdout (unless the command printed its own).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let json = JSONOutput.requested(arguments)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            Terminal.endLiveLine()
            let code = exitCode(for: error)
            if code == .validationFailure {
                if json {
                    JSONOutput.print(CommandTree.path(arguments: arguments), error: ErrorReport(kind: "usage", message: message(for: error)),
                                     exitCode: ExitStatus.usage)
                } else {
                    FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                }
                Foundation.exit(ExitStatus.usage)
            }
            if json && !code.isSuccess && !(error is ExitCode) && !JSONOutput.printed.load(ordering: .relaxed) {
                // An error no command rendered (an I/O error, say): still one document.
                JSONOutput.print(CommandTree.path(arguments: arguments), error: ErrorReport(kind: "usage", message: message(for: error)),
                                 exitCode: ExitStatus.usage)
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}
