import BellowsSQL
import Testing
@testable import BellowsPlan

/// `rename_table_to:` without a database: what contract renames, the plan's errors, the SQL.
@Suite struct TableRenameTests {
    typealias Object = TableRename.Object

    func decided(_ objects: [Object], taken: Set<String> = [], old: String = "members", new: String = "people") -> [String] {
        TableRename.renames(table: old, to: new, objects: objects, taken: taken).renames.map { "\($0.kind.rawValue) \($0.from) -> \($0.to)" }
    }

    @Test func theNamesPostgreSQLGeneratedFollowTheTable() {
        let objects = [
            Object(.constraint, "members_pkey", ownedIndex: "members_pkey"),
            Object(.index, "members_pkey"),
            Object(.constraint, "members_email_key", ownedIndex: "members_email_key"),
            Object(.index, "members_email_key"),
            Object(.constraint, "members_referrer_fkey"),
            Object(.constraint, "members_score_check"),
            Object(.constraint, "members_score_not_null"),
            Object(.index, "members_lower_idx"),
            Object(.index, "keep_score_idx"),
            Object(.constraint, "score_positive"),
            Object(.sequence, "members_id_seq"),
            Object(.sequence, "members_code_seq"),
            Object(.sequence, "membership_seq"),
        ]
        #expect(decided(objects) == [
            "constraint members_email_key -> people_email_key",
            "constraint members_pkey -> people_pkey",
            "constraint members_referrer_fkey -> people_referrer_fkey",
            "constraint members_score_check -> people_score_check",
            "constraint members_score_not_null -> people_score_not_null",
            "index members_lower_idx -> people_lower_idx",
            "sequence members_code_seq -> people_code_seq",
            "sequence members_id_seq -> people_id_seq",
        ])
    }

    @Test func aNameLongerThan63BytesIsFitted() {
        let new = String(repeating: "n", count: 60)
        let renames = TableRename.renames(table: "t", to: new, objects: [Object(.index, "t_some_column_idx")], taken: []).renames
        let to = try? #require(renames.first?.to)
        #expect(to?.utf8.count == 63)
        #expect(to == TransitionNames.fitted(new + "_some_column_idx"))
    }

    @Test func aTakenNameIsSkippedAndKeepsItsOldName() {
        let result = TableRename.renames(table: "members", to: "people",
                                         objects: [Object(.index, "members_a_idx"), Object(.index, "members_b_idx"),
                                                   Object(.constraint, "members_c_check"), Object(.constraint, "people_c_check")],
                                         taken: ["people_a_idx", "members_a_idx", "members_b_idx"])
        #expect(result.renames.map(\.from) == ["members_b_idx"])
        #expect(result.skipped.map(\.from) == ["members_c_check", "members_a_idx"])
    }

    @Test func theOfflineCatalogGivesConstraintsIndexesAndSerialSequences() {
        let catalog = MigrationSchema.catalog(fromMigrations: ["""
            CREATE TABLE members (id serial PRIMARY KEY, email text UNIQUE, score int CHECK (score > 0));
            CREATE INDEX members_score_idx ON members (score);
            """])
        let table = try? #require(catalog.table(TableName(schema: nil, name: "members")))
        let objects = table.map(TableRename.objects(of:)) ?? []
        #expect(objects.contains(Object(.sequence, "members_id_seq")), "\(objects)")
        #expect(objects.contains(Object(.index, "members_score_idx")), "\(objects)")
        #expect(!objects.contains(Object(.index, "members_pkey")), "an index its constraint owns is renamed through it: \(objects)")
        let after = table.map { TableRename.applied(to: $0, newName: "people") }
        #expect(after?.name == "people")
        #expect(after?.column("id")?.defaultExpression == "nextval('people_id_seq'::regclass)")
        #expect(after?.indexes.map(\.name).sorted() == ["people_email_key", "people_pkey", "people_score_idx"])
    }

    // MARK: The plan

    @Test func aRenamePlanLoadsWithoutChanges() throws {
        let plan = try #require(PlanLoader.load(file: "plans/010_rename.yaml", source: "table: members\nrename_table_to: people\n").plan)
        #expect(plan.renameTableTo?.value == "people")
        #expect(plan.finalTableName == TableName(schema: nil, name: "people"))
        #expect(plan.changes.isEmpty)
    }

    @Test func columnChangesBesideARenameAreALocatedError() {
        let found = PlanLoader.load(file: "plans/010_rename.yaml", source: """
            table: members
            rename_table_to: people
            changes:
              - add: nick
                type: text
            """).findings
        #expect(summary(found) == ["4:3 plan-table-rename-combined"])
        #expect(found.first?.message.contains("a plan of their own") == true)
    }

    @Test(arguments: [("public.people", "no quotes, no schema"), ("_bellows_x", "reserves"), ("members", "present name"),
                      (String(repeating: "x", count: 64), "at most 63")])
    func aBadNewNameIsALocatedError(_ name: String, _ words: String) {
        let found = PlanLoader.load(file: "plans/010_rename.yaml", source: "table: members\nrename_table_to: \"\(name)\"\n").findings
        #expect(summary(found) == ["2:18 plan-invalid-value"], "\(found)")
        #expect(found.first?.message.contains(words) == true, "\(found)")
    }

    @Test func checkRefusesANameTheMigrationsAlreadyUse() {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE members (id int PRIMARY KEY); CREATE TABLE people (id int);"])
        let found = check([("010_rename.yaml", "table: members\nrename_table_to: people\n")], migrations: [], catalog: catalog)
        #expect(summary(found) == ["2:18 plan-table-exists"], "\(found)")
    }

    @Test func aLaterPlanUsesTheNewName() {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE members (id int PRIMARY KEY, nick text);"])
        let plans = [("010_rename", "table: members\nrename_table_to: people\n"),
                     ("011_nick", "table: people\nchanges:\n  - alter: nick\n    rename_to: nickname\n")]
            .compactMap { PlanLoader.load(file: "plans/\($0.0).yaml", source: $0.1).plan }
        let bases = PlanChain.bases(plans, base: catalog)
        let base = try? #require(bases["011_nick"]?.catalog)
        #expect(base?.table(TableName(schema: nil, name: "people"))?.column("nick") != nil)
        #expect(base?.table(TableName(schema: nil, name: "members")) == nil)
        #expect(bases["010_rename"]?.catalog.table(TableName(schema: nil, name: "members")) != nil)
        let found = plans.flatMap { PlanValidator.validate($0, catalog: bases[$0.id]?.catalog) }
        #expect(!found.contains { $0.severity == .error || $0.rule == "plan-unknown-table" }, "\(found)")
    }

    @Test func theSQLOfEachPhase() throws {
        let catalog = MigrationSchema.catalog(fromMigrations: ["""
            CREATE TABLE members (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text UNIQUE);
            """])
        let plan = try #require(PlanLoader.load(file: "plans/010_rename.yaml", source: "table: members\nrename_table_to: people\n").plan)
        let transition = try #require(TransitionCompiler.compile(plan, table: catalog.table(plan.table.value)).transition)
        let sql = PhaseSQL(transition)
        let expand = sql.statements(for: .expand).map(\.sql)
        #expect(expand.first == "CREATE VIEW \"public\".\"people\" WITH (security_invoker = true) AS\n  SELECT * FROM \"public\".\"members\"")
        #expect(expand.contains("GRANT SELECT, INSERT, UPDATE, DELETE ON \"public\".\"people\" TO PUBLIC"))
        #expect(!sql.needsBackfill)
        let contract = sql.statements(for: .contract).map(\.sql)
        #expect(Array(contract.suffix(4)) == [
            "DROP VIEW IF EXISTS \"public\".\"people\"",
            "ALTER TABLE \"public\".\"members\" RENAME TO \"people\"",
            "ALTER TABLE \"public\".\"people\" RENAME CONSTRAINT \"members_email_key\" TO \"people_email_key\"",
            "ALTER TABLE \"public\".\"people\" RENAME CONSTRAINT \"members_pkey\" TO \"people_pkey\"",
        ])
        #expect(sql.statements(for: .rollback).map(\.sql).first == "DROP VIEW IF EXISTS \"public\".\"people\"")
    }
}
