import ArgumentParser
import BellowsEngine

struct Migrations: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The migration ledger: applied, pending, drifted and partly applied files.",
        subcommands: [MigrationsStatus.self],
        defaultSubcommand: MigrationsStatus.self)
}

struct MigrationsStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List every migration file and ledger row: applied (checksum, when, by whom, how long), pending, drifted, missing files.",
        discussion: "Reads only: it creates nothing, not even the bellows schema. Use --format json in CI. "
            + ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [0: "whatever the states"]))

    @OptionGroup var target: MigrationTargetOptions

    func run() throws {
        do {
            let lines = try migrationRunner(target, nil).status()
            if target.format == .json {
                JSONOutput.print(Self.documentName, .ok, MigrationsStatusBody(migrations: lines.map(MigrationsStatusBody.Line.init)))
                return
            }
            if lines.isEmpty {
                Terminal.out("no migrations in \(Project(root: target.project).migrationsDirectory) and none in the ledger")
                return
            }
            let nameWidth = max(9, lines.map(\.name.count).max() ?? 9)
            func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
            Terminal.out(Terminal.bold(pad("MIGRATION", nameWidth) + "  " + pad("STATE", 12) + "  " + pad("CHECKSUM", 8) + "  "
                                       + pad("APPLIED AT", 20) + "  " + pad("BY", 16) + "  TOOK"))
            for line in lines {
                let checksum: String
                switch line.state {
                case .drifted: checksum = "\((line.appliedChecksum ?? "").prefix(8))→\((line.fileChecksum ?? "").prefix(8))"
                case .applied, .missingFile: checksum = String((line.appliedChecksum ?? "").prefix(8))
                default: checksum = String((line.fileChecksum ?? "").prefix(8))
                }
                var state = line.state.rawValue
                if line.state == .partial, let done = line.completedStatements, let total = line.totalStatements {
                    state += " \(done)/\(total)"
                }
                let took = line.durationMilliseconds.map { "\($0) ms" + (line.transactional == false ? " (no tx)" : "") }
                    ?? (line.state == .pending && line.transactional == false ? "(will run outside a transaction)" : "")
                let text = pad(line.name, nameWidth) + "  " + pad(state, 12) + "  " + pad(checksum, 8) + "  "
                    + pad(line.appliedAt ?? "", 20) + "  " + pad(line.appliedBy ?? "", 16) + "  " + took
                switch line.state {
                case .applied: Terminal.out(text)
                case .pending: Terminal.out(Terminal.dim(text))
                default: Terminal.out(Terminal.red(text))
                }
            }
            let count = { (state: MigrationState) in lines.filter { $0.state == state }.count }
            var summary = "\(count(.applied)) applied, \(count(.pending)) pending"
            if count(.partial) > 0 { summary += ", \(count(.partial)) partly applied (run `bellows migrate` to resume)" }
            if count(.drifted) > 0 { summary += ", \(count(.drifted)) drifted (changed since applied: `bellows migrate` refuses them)" }
            if count(.missingFile) > 0 { summary += ", \(count(.missingFile)) applied but missing from migrations/" }
            if count(.rollbackPartial) > 0 { summary += ", \(count(.rollbackPartial)) partly rolled back (finish with `bellows migrate rollback`)" }
            if count(.renamed) > 0 { summary += ", \(count(.renamed)) renamed since applied (`bellows migrate` records the new name)" }
            if count(.invalid) > 0 { summary += ", \(count(.invalid)) refused by the runner (`bellows lint` says why)" }
            for line in lines where line.state == .invalid { Terminal.out(Terminal.red("  \(line.problem ?? line.name)")) }
            Terminal.out(summary)
        } catch {
            throw failMigration(error, format: target.format, command: Self.self)
        }
    }
}
