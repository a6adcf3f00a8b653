import ArgumentParser

struct Rehearse: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(not yet built)")

    func run() throws {
        Terminal.err("bellows rehearse is not built yet")
        throw ExitCode(2)
    }
}
