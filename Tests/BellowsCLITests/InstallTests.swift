import BellowsEngine
import Foundation
import Testing

/// `scripts/install` as a user runs it: the installed binary carries the Swift runtime and runs
/// with the toolchain out of reach. `BELLOWS_INSTALLED` names a binary scripts/install installed;
/// with `BELLOWS_TEST_INSTALL=1` the test runs scripts/install into a temporary prefix itself (a
/// release build of its own: many minutes the first time on a busy machine, which is why it is
/// not part of every run).
@Suite(.serialized) struct InstallTests {
    static var enabled: Bool {
        let environment = ProcessInfo.processInfo.environment
        return !(environment["BELLOWS_INSTALLED"] ?? "").isEmpty || environment["BELLOWS_TEST_INSTALL"] == "1"
    }

    static let repository = CheckCommandTests.repository

    /// The installed binary and whether this test installed it (then its prefix is removed).
    static func installed() throws -> (binary: URL, prefix: URL?) {
        if let given = ProcessInfo.processInfo.environment["BELLOWS_INSTALLED"], !given.isEmpty {
            return (URL(fileURLWithPath: given), nil)
        }
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-install-\(UUID().uuidString)")
        let install = try CheckCommandTests.run(repository.appendingPathComponent("scripts/install"), [prefix.path],
                                                in: repository.path)
        #expect(install.status == 0, "scripts/install failed:\n\(install.stdout)\(install.stderr)")
        return (prefix.appendingPathComponent("bin/bellows"), prefix)
    }

    @Test(.enabled(if: enabled, "set BELLOWS_INSTALLED=PREFIX/bin/bellows (after scripts/install PREFIX) or BELLOWS_TEST_INSTALL=1"))
    func theInstalledBinaryRunsWithoutTheToolchain() throws {
        let (binary, prefix) = try Self.installed()
        defer { if let prefix { try? FileManager.default.removeItem(at: prefix) } }
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "nothing installed at \(binary.path)")

        // No Swift library from anywhere: the runtime and Foundation are in the binary.
        let ldd = try CheckCommandTests.run(URL(fileURLWithPath: "/usr/bin/ldd"), [binary.path])
        #expect(ldd.status == 0, "\(ldd.stderr)")
        for library in ["libswiftCore", "libFoundation", "libdispatch", "libswift_"] {
            #expect(!ldd.stdout.contains(library), "ldd shows \(library):\n\(ldd.stdout)")
        }
        #expect(ldd.stdout.contains("libpq"), "\(ldd.stdout)")

        // An empty environment: no toolchain on the PATH, no LD_LIBRARY_PATH, no HOME.
        let bare = ["PATH": "/usr/bin:/bin"]
        let version = try CheckCommandTests.run(binary, ["--version"], environment: bare)
        #expect(version.status == 0, "\(version.stderr)")
        let line = version.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.hasPrefix("bellows \(BuildInfo.version) (commit "), "\(line)")
        #expect(!line.contains("unknown"), "scripts/install compiles the commit in: \(line)")

        let root = try CheckCommandTests.exampleProject()
        defer { CheckCommandTests.remove(root) }
        let check = try CheckCommandTests.run(binary, ["check"], in: root, environment: bare)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stderr.contains("0 error(s)"), "\(check.stderr)")
    }

    /// A plain `swift build` works and says where its commit would come from.
    @Test func aPlainBuildPrintsItsVersion() throws {
        let run = try CheckCommandTests.bellows(["--version"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("bellows \(BuildInfo.version) (commit "), "\(run.stdout)")
    }
}
