import Testing
@testable import BellowsPlan

/// The dual-write trigger evaluates `up` and `down` as plpgsql expressions over `NEW` when the
/// rewrite is certain to mean the same, and falls back to a query over the row otherwise.
@Suite struct TriggerRowFormTests {
    let columns: Set<String> = ["email", "full_name", "bio", "status", "Mixed", "time", "lower", "year"]

    @Test(arguments: [
        ("email", #"NEW."email""#),
        (#""email""#, #"NEW."email""#),
        ("upper(btrim(email))", #"upper(btrim(NEW."email"))"#),
        ("split_part(full_name, ' ', 1)", #"split_part(NEW."full_name", ' ', 1)"#),
        ("bio::varchar(2000)", #"NEW."bio"::varchar(2000)"#),
        ("bio::character varying(500)", #"NEW."bio"::character varying(500)"#),
        ("CAST(status AS text)", #"CAST(NEW."status" AS text)"#),
        (#""Mixed" IS NOT DISTINCT FROM 'email'"#, #"NEW."Mixed" IS NOT DISTINCT FROM 'email'"#),
        ("CASE WHEN email IS NULL THEN '' ELSE email END", #"CASE WHEN NEW."email" IS NULL THEN '' ELSE NEW."email" END"#),
        ("coalesce(email, full_name) || E'\\n'", #"coalesce(NEW."email", NEW."full_name") || E'\n'"#),
        ("bio::double precision", #"NEW."bio"::double precision"#),
        ("email LIKE 'a%' AND bio IN ('x', 'y')", #"NEW."email" LIKE 'a%' AND NEW."bio" IN ('x', 'y')"#),
        ("interval '1 day'", "interval '1 day'"),
    ])
    func rewritesColumnReferences(_ expression: String, _ expected: String) {
        #expect(PhaseSQL.overNew(expression, columns: columns) == expected)
    }

    @Test(arguments: [
        "(SELECT max(id) FROM users WHERE users.email = email)",  // a subquery
        "users.email",                                           // a qualified name
        "EXTRACT(year FROM bio)",                                // a field name that is also a column
        "time",                                                  // a column that is also a keyword
        "lower(email) -- comment",                               // a comment
        "email || $1",                                           // a parameter
        "mystery_word",                                          // a word not known to be safe
        "'unterminated",                                         // an unterminated string
        "email; DROP TABLE users",                               // a statement separator
        "bio::lower",                                            // a column name in a type's place
        "lower('x')",                                            // a column name as a function name
    ])
    func keepsTheQueryFormWhenUnsure(_ expression: String) {
        #expect(PhaseSQL.overNew(expression, columns: columns) == nil)
    }
}

/// Issue 22: the trigger of a replacing change compared the written row's old and new columns
/// with `record_image_ne(ROW(…), ROW(…))` and `record_image_eq`, building two rows per
/// comparison on every write. For types whose `=` is identity (`PhaseSQL.identityEquality`)
/// it compares with `IS [NOT] DISTINCT FROM`, text under `COLLATE "C"`; other types keep the
/// binary image comparison (`2.5` and `2.50` differ).
@Suite struct TriggerComparisonTests {
    func function(_ changes: String) throws -> String {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE e (id bigint PRIMARY KEY, n integer, payload text, amount numeric);"])
        let plan = try #require(PlanLoader.load(file: "plans/001_p.yaml", source: "table: e\nchanges:\n" + changes).plan)
        let transition = try #require(TransitionCompiler.compile(plan, table: catalog.table(plan.table.value)).transition)
        return PhaseSQL(transition).triggerFunction
    }

    @Test func identityTypesAreComparedWithoutBuildingRows() throws {
        let widen = try function("  - alter: n\n    type: bigint\n    up: \"n::bigint\"\n    down: \"n::integer\"\n")
        #expect(!widen.contains("record_image"), "\(widen)")
        #expect(widen.contains(#"ELSIF NEW."n" IS DISTINCT FROM OLD."n" AND NEW."_bellows_n" IS NOT DISTINCT FROM OLD."_bellows_n" THEN"#), "\(widen)")
        #expect(widen.contains(#"IF NEW."_bellows_n" IS DISTINCT FROM (NEW."n"::bigint)::bigint THEN"#), "\(widen)")
        let split = try function("""
              - split: payload
                into:
                  - { column: head, type: text, up: "left(payload, 32)" }
                  - { column: tail, type: text, up: "substr(payload, 33)" }
                down: "head || tail"

            """)
        #expect(!split.contains("record_image"), "\(split)")
        #expect(split.contains(#"ELSIF (NEW."payload" COLLATE "C") IS DISTINCT FROM (OLD."payload" COLLATE "C") AND ((NEW."head" COLLATE "C") IS NOT DISTINCT FROM (OLD."head" COLLATE "C") AND (NEW."tail" COLLATE "C") IS NOT DISTINCT FROM (OLD."tail" COLLATE "C")) THEN"#), "\(split)")
        let numeric = try function("  - alter: amount\n    type: numeric(12,2)\n    up: \"round(amount, 2)\"\n    down: \"amount\"\n")
        #expect(numeric.contains(#"record_image_eq(ROW(NEW."_bellows_amount"), ROW(OLD."_bellows_amount"))"#), "\(numeric)")
    }
}
