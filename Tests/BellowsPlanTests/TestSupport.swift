import BellowsSQL
import Foundation
@testable import BellowsPlan

/// The repository's example project (`plans/`, `migrations/`), found from this file's path so
/// the tests need no resources declared in Package.swift.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // BellowsPlanTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static let plansDirectory = root.appendingPathComponent("plans")
    static let migrationsDirectory = root.appendingPathComponent("migrations")
    static let goldenDirectory = root.appendingPathComponent("Tests/BellowsPlanTests/Golden")

    /// Sorted `*.yaml` files of a directory.
    static func files(in directory: URL, extension ext: String) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.sorted().map { directory.appendingPathComponent($0) }
    }

    static var examplePlans: [URL] { files(in: plansDirectory, extension: "yaml") }

    /// The example plans' stems, for `@Test(arguments:)`.
    static var examplePlanNames: [String] { examplePlans.map { $0.deletingPathExtension().lastPathComponent } }

    static var migrationFiles: [URL] { files(in: migrationsDirectory, extension: "sql") }
    static var migrationNames: [String] { migrationFiles.map { $0.deletingPathExtension().lastPathComponent } }

    static func text(_ url: URL) -> String {
        (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    /// The schema the repository's migrations build, as `bellows check` and `bellows render` see it.
    static let catalog: SchemaCatalog = MigrationSchema.catalog(fromMigrations: migrationFiles.map(text))
}

/// Loads in-memory plan files and validates them together against the example schema, as
/// `bellows check` does: loader findings of every file, then the validator's.
func check(_ files: [(name: String, source: String)], migrations: [String] = Repository.migrationNames,
           catalog: SchemaCatalog? = Repository.catalog) -> [Finding] {
    var findings: [Finding] = []
    var plans: [Plan] = []
    for file in files {
        let result = PlanLoader.load(file: "plans/\(file.name)", source: file.source)
        findings += result.findings
        if let plan = result.plan { plans.append(plan) }
    }
    findings += PlanValidator.validate(plans: plans, migrationNames: migrations, catalog: catalog)
    return findings.sortedForReading()
}

func check(_ source: String, name: String = "010_test_plan.yaml") -> [Finding] {
    check([(name, source)])
}

/// `line:column rule` of each finding, for readable expectations.
func summary(_ findings: [Finding]) -> [String] {
    findings.map { "\($0.line):\($0.column) \($0.rule)" }
}

/// A reproducible random number generator (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
