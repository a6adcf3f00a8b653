import ArgumentParser
import BellowsEngine
import BellowsSQL

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check plans (and lint migrations) offline, as CI does: every error, located, in one run.",
        discussion: "Exit 0 when clean, 1 when a finding of error severity, 2 on usage or I/O errors.")

    @Argument(help: "Plan files, migration files or directories (default: plans/ and migrations/).")
    var paths: [String] = []

    @Option(help: "Project directory holding plans/ and migrations/.")
    var project: String = "."

    @Option(help: "Output format: text, json or github (workflow annotations).")
    var format: FindingsFormat = .text

    func run() throws {
        let findings = ProjectCheck.check(project: Project(root: project), paths: paths)
        Terminal.renderFindings(findings, format: format)
        if findings.contains(where: { $0.rule == "io-error" }) { throw ExitCode(ExitStatus.usage) }
        if findings.hasErrors { throw ExitCode(ExitStatus.refused) }
    }
}
