@testable import BellowsPlan
import Testing

/// How a carried index's and constraint's definitions are read and rewritten, without a
/// database (issue 14; hostile-c 02, 07, 11).
struct CarriedDefinitionTests {
    /// `TABLESPACE` goes where PostgreSQL's grammar puts it: after `WITH (…)`, before the
    /// predicate (a `WHERE` inside the column list's parentheses is not the predicate).
    @Test func theTablespaceGoesBeforeThePredicate() throws {
        func shown(_ sql: String?) -> String? { sql?.replacingOccurrences(of: "\u{0}", with: "|") }
        let partial = shown(Carryover.rewriteIndex(
            "CREATE UNIQUE INDEX t_note_key ON public.t USING btree (note) WITH (fillfactor='50') WHERE (NOT deleted)",
            table: "\"public\".\"t\"", renames: ["note": "remark"], tablespace: "Fast Disk"))
        #expect(partial == "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS |NAME| ON \"public\".\"t\" USING btree (\"remark\") WITH (fillfactor='50') TABLESPACE \"Fast Disk\" WHERE (NOT deleted)")
        let plain = shown(Carryover.rewriteIndex("CREATE INDEX t_note_idx ON public.t USING btree (note)", table: "t", renames: ["note": "remark"], tablespace: "note"))
        #expect(plain == "CREATE INDEX CONCURRENTLY IF NOT EXISTS |NAME| ON t USING btree (\"remark\") TABLESPACE \"note\"")
        let none = shown(Carryover.rewriteIndex("CREATE INDEX t_note_idx ON public.t USING btree (note) WHERE (note <> '')", table: "t", renames: ["note": "remark"]))
        #expect(none == "CREATE INDEX CONCURRENTLY IF NOT EXISTS |NAME| ON t USING btree (\"remark\") WHERE (\"remark\" <> '')")
    }

    /// Deferrability and NOT VALID are read from the definition's keywords, not its text.
    @Test func deferrabilityAndNotValidAreReadFromKeywords() {
        func constraint(_ definition: String) -> ConstraintInfo { ConstraintInfo(kind: "u", name: "k", columns: ["a"], definition: definition) }
        #expect(constraint("UNIQUE (a) DEFERRABLE INITIALLY DEFERRED").deferrability == " DEFERRABLE INITIALLY DEFERRED")
        #expect(constraint("UNIQUE (a) DEFERRABLE").deferrability == " DEFERRABLE")
        #expect(constraint("UNIQUE (\"DEFERRABLE\")").deferrability == "")
        #expect(constraint("UNIQUE (a)").deferrability == "")
        let check = ConstraintInfo(kind: "c", name: "c", columns: ["a"], definition: "CHECK ((a >= 0)) NOT VALID")
        #expect(check.isNotValid)
        #expect(check.definitionAsDeclared == "CHECK ((a >= 0))")
        let valid = ConstraintInfo(kind: "c", name: "c", columns: ["a"], definition: "CHECK ((a <> 'NOT VALID'::text))")
        #expect(!valid.isNotValid)
        #expect(valid.definitionAsDeclared == valid.definition)
    }

    /// A unique index whose NULLs collide cannot be built over the still-empty new column
    /// (hostile-d 39): `NULLS NOT DISTINCT`, or a key that gives a value for NULL, unless a
    /// partial index's `WHERE` names the column.
    @Test func uniqueIndexesWhoseNullsCollideAreNamed() {
        let email: Set<String> = ["email"]
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (email) NULLS NOT DISTINCT", columns: email) == "it is NULLS NOT DISTINCT")
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (lower(COALESCE(email, ''::text)))", columns: email)?.contains("COALESCE") == true)
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (((email IS NULL)), tenant)", columns: email) != nil)
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (lower(email))", columns: email) == nil)
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (email)", columns: email) == nil)
        #expect(Carryover.nullsCollide("CREATE INDEX k ON public.users USING btree (COALESCE(email, ''::text))", columns: email) == nil)
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (email) NULLS NOT DISTINCT WHERE (email IS NOT NULL)", columns: email) == nil)
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (COALESCE(phone, ''::text), email)", columns: email) == nil)
        #expect(Carryover.nullsCollide("CREATE UNIQUE INDEX k ON public.users USING btree (COALESCE(phone, ''::text))", columns: email) == nil)
    }
}
