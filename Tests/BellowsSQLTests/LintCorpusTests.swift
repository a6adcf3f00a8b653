import Foundation
import Testing
@testable import BellowsSQL

/// Lints every file of `lint-corpus/` (in name order, each with the context of the ones
/// before it, as `bellows lint` does for a migrations directory) and pins the rule ids each
/// file produces. `docs/lint.md` compares these with squawk's output on the same files;
/// if this test changes, update that table.
@Suite struct LintCorpusTests {
    static let expected: [String: [String]] = [
        "001_schema.sql": [],
        "002_concurrent_index_in_transaction.sql": ["concurrent-in-transaction"],
        "003_concurrent_index_alone.sql": [],
        "004_index_not_concurrent.sql": ["non-concurrent-index"],
        "005_set_not_null_direct.sql": ["set-not-null-without-check"],
        "006_not_null_check_not_valid.sql": [],
        "007_not_null_check_validate.sql": [],
        "008_set_not_null_after_validate.sql": [],
        "009_check_without_not_valid.sql": ["constraint-without-not-valid"],
        "010_foreign_key_validated_same_transaction.sql": ["validate-in-same-transaction"],
        "011_varchar_widening.sql": [],
        "012_varchar_to_text.sql": [],
        "013_type_change_rewrite.sql": ["column-type-rewrite"],
        "014_volatile_default.sql": ["volatile-default"],
        "015_stable_default.sql": [],
        "016_not_null_without_default.sql": ["not-null-column-without-default"],
        "017_unique_constraint.sql": ["unique-without-index"],
        "018_unique_using_index.sql": [],
        "019_rename_column.sql": ["rename-column"],
        "020_drop_column.sql": ["drop-column"],
        "021_enum_value_used.sql": ["enum-value-in-transaction"],
        "022_update_without_where.sql": ["dml-without-where"],
        "023_do_commit.sql": ["transaction-control-in-do"],
        "024_vacuum_full.sql": ["missing-lock-timeout", "vacuum-full-or-cluster"],
        "025_no_lock_timeout.sql": ["missing-lock-timeout"],
        "026_strings_and_bodies.sql": [],
        "027_drop_table.sql": ["drop-table"],
        "028_rename_table.sql": ["rename-table"],
        "029-Add-Index.sql": ["migration-file-name"],
        "030_concurrent_index_with_other_work.sql": ["non-transactional-mixed"],
    ]

    static var corpusDirectory: URL {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("lint-corpus")
    }

    @Test func corpusProducesThePinnedRules() throws {
        let directory = Self.corpusDirectory
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(Set(names) == Set(Self.expected.keys), "lint-corpus/ and the pinned table disagree")
        let sources = try names.map { name in
            MigrationSource(path: name, contents: try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
        }
        let findings = Linter().lint(migrations: sources)
        for name in names {
            let rules = findings.filter { $0.file == name }.map(\.rule).sorted()
            #expect(rules == Self.expected[name] ?? [], "\(name): \(findings.filter { $0.file == name }.map(\.description))")
        }
    }
}
