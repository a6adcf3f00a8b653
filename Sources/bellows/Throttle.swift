import ArgumentParser
import BellowsEngine

struct Throttle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Slow a plan's backfill down, or size its batches, while it runs: it obeys from its next batch.",
        discussion: "Each option given replaces its value; --clear removes both first. The throttle stays until cleared, "
            + "also for a backfill started later. Recorded in the audit trail. " + controlHelp)

    @OptionGroup var options: ControlOptions

    @Option(help: "At most this many rows a second (a batch is then at most this many rows, and is followed by a rest).")
    var maxRowsPerSecond: Int?

    @Option(help: "Batches of exactly this many rows, instead of the adaptive size.")
    var batchSize: Int?

    @Flag(help: "Remove the throttle (combined with an option: replace it).")
    var clear = false

    func run() throws {
        try options.run(.throttle(maxRowsPerSecond: maxRowsPerSecond, batchSize: batchSize, clear: clear), command: Self.self)
    }
}
