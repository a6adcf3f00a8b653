import ArgumentParser
import BellowsEngine

struct Backfill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill existing rows in keyset batches; resumable, adaptive, Ctrl-C stops cleanly after a batch.",
        discussion: ExitStatus.phaseHelp)

    @OptionGroup var options: PhaseOptions

    @Flag(help: "On a backfilled plan: walk the table again from the first key and recompute with up the new columns of every row that disagrees with it (after writes that bypassed the trigger), then run verify again. The old columns are taken as right.")
    var rescan = false

    func run() throws {
        try runAndRender(Self.self, plan: options.plan, format: options.format) { ([try options.engine(rescan: rescan).run(.backfill, plan: options.plan)], nil) }
    }
}
