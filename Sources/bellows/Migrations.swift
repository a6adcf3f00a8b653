import ArgumentParser

struct Migrations: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(not yet built)")

    func run() throws {
        Terminal.err("bellows migrations is not built yet")
        throw ExitCode(2)
    }
}
