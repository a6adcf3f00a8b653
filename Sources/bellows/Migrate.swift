import ArgumentParser

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(not yet built)")

    func run() throws {
        Terminal.err("bellows migrate is not built yet")
        throw ExitCode(2)
    }
}
