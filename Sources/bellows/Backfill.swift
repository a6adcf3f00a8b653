import ArgumentParser
import BellowsEngine

struct Backfill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fill existing rows in keyset batches; resumable, adaptive, Ctrl-C stops cleanly after a batch.")

    @OptionGroup var options: PhaseOptions

    func run() throws {
        try runAndRender(format: options.format) { [try options.engine().run(.backfill, plan: options.plan)] }
    }
}
