import BellowsSQL
import Testing
@testable import BellowsPlan

/// One broken plan (or set of plan files) and the finding it must produce.
struct BrokenPlan: Sendable, CustomTestStringConvertible {
    var name: String
    /// Plan files, checked together (cross-plan rules need several).
    var files: [(name: String, source: String)]
    /// The file the finding is in (default: the first).
    var file: String?
    var rule: String
    /// `line:column` of the finding in the file.
    var at: String
    /// Words the message must contain.
    var words: [String]
    var severity: Severity
    /// How many findings of this severity the whole check yields (catches duplicates and knock-on noise).
    var count: Int

    init(_ name: String, _ source: String, file: String = "010_test_plan.yaml", rule: String, at: String, _ words: [String] = [],
         severity: Severity = .error, count: Int = 1) {
        self.init(name, files: [(file, source)], rule: rule, at: at, words, severity: severity, count: count)
    }

    init(_ name: String, files: [(name: String, source: String)], in file: String? = nil, rule: String, at: String,
         _ words: [String] = [], severity: Severity = .error, count: Int = 1) {
        self.name = name
        self.files = files
        self.file = file
        self.rule = rule
        self.at = at
        self.words = words
        self.severity = severity
        self.count = count
    }

    var testDescription: String { name }
}

/// A valid plan on the example schema: the cases below each break one thing of it.
let validPlan = """
    table: users
    changes:
      - alter: email
        rename_to: email_address

    """

@Suite struct BrokenPlanTests {
    static let cases: [BrokenPlan] = [
        // MARK: YAML syntax
        BrokenPlan("bad indentation", """
            table: users
            changes:
              - alter: email
                 rename_to: email_address
            """, rule: "plan-yaml-syntax", at: "4:15", ["invalid YAML", "mapping values are not allowed"]),
        BrokenPlan("key indented under a scalar", """
            table: users
              changes: []
            """, rule: "plan-yaml-syntax", at: "2:10", ["invalid YAML"]),
        BrokenPlan("unclosed double quote", """
            table: users
            description: "never closed
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-yaml-syntax", at: "2:14", ["invalid YAML", "quoted scalar"]),
        BrokenPlan("unclosed single quote", """
            table: users
            changes:
              - alter: email
                up: 'lower(email)
            """, rule: "plan-yaml-syntax", at: "4:9", ["invalid YAML", "quoted scalar"]),
        BrokenPlan("unclosed bracket", """
            table: users
            depends_on:
              migrations: [001_initial_schema
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-yaml-syntax", at: "3:15", ["invalid YAML", "flow sequence"]),
        BrokenPlan("unclosed brace", """
            table: users
            changes:
              - { alter: email, rename_to: email_address
            """, rule: "plan-yaml-syntax", at: "3:5", ["invalid YAML", "flow mapping"]),
        BrokenPlan("tab indentation", "table: users\nchanges:\n\t- alter: email\n",
                   rule: "plan-yaml-syntax", at: "3:1", ["invalid YAML"]),
        BrokenPlan("key written twice", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
            table: profiles
            """, rule: "plan-duplicate-key", at: "5:1", ["'table'", "twice"]),

        // MARK: Unknown keys
        BrokenPlan("unknown top-level key", """
            table: users
            chnages:
              - alter: email
                rename_to: email_address
            """, rule: "plan-unknown-key", at: "2:1", ["unknown key 'chnages'", "did you mean 'changes'?"], count: 2),
        BrokenPlan("unknown key in a change", """
            table: users
            changes:
              - alter: email
                renam_to: email_address
            """, rule: "plan-unknown-key", at: "4:5", ["unknown key 'renam_to'", "'alter' change", "did you mean 'rename_to'?"]),
        BrokenPlan("unknown key in backfill, no close match", """
            \(validPlan)backfill:
              speed: 11
            """, rule: "plan-unknown-key", at: "6:3", ["unknown key 'speed'", "expected one of: batch_size"]),
        BrokenPlan("unknown key in a split target", """
            table: users
            changes:
              - split: full_name
                into:
                  - { column: given_name, type: text, up: "full_name", not_nul: true }
                  - { column: family_name, type: text, up: "full_name" }
                down: "given_name"
            """, rule: "plan-unknown-key", at: "5:60", ["'not_nul'", "did you mean 'not_null'?"]),

        // MARK: Wrong types
        BrokenPlan("changes is a number", """
            table: users
            changes: 5
            """, rule: "plan-wrong-type", at: "2:10", ["'changes' must be a list, found a number"]),
        BrokenPlan("not_null is a string", """
            \(validPlan)    not_null: "yes"
            """, rule: "plan-wrong-type", at: "5:15", ["'not_null' must be true or false, found a string"]),
        BrokenPlan("batch_size is a word", """
            \(validPlan)backfill:
              batch_size: fast
            """, rule: "plan-wrong-type", at: "6:15", ["'batch_size' must be a whole number, found a string"]),
        BrokenPlan("table is a list", """
            table: [users]
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-wrong-type", at: "1:8", ["'table' must be a string, found a list"]),
        BrokenPlan("a change is a string", """
            table: users
            changes:
              - alter email
            """, rule: "plan-wrong-type", at: "3:5", ["a change must be a mapping", "found a string"]),
        BrokenPlan("the plan is a list", """
            - table: users
            """, rule: "plan-wrong-type", at: "1:1", ["the plan must be a mapping, found a list"]),
        BrokenPlan("rename_to is null", """
            table: users
            changes:
              - alter: email
                rename_to:
            """, rule: "plan-wrong-type", at: "4:15", ["'rename_to' must be a string, found null"]),

        // MARK: Missing keys
        BrokenPlan("no table", """
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-missing-key", at: "1:1", ["needs 'table'"]),
        BrokenPlan("no changes", """
            table: users
            description: nothing to do
            """, rule: "plan-missing-key", at: "1:1", ["needs 'changes'"]),
        BrokenPlan("empty changes", """
            table: users
            changes: []
            """, rule: "plan-missing-key", at: "2:10", ["'changes' is empty"]),
        BrokenPlan("empty file", "# only a comment\n", rule: "plan-missing-key", at: "1:1", ["the plan is empty"]),
        BrokenPlan("add without type", """
            table: users
            changes:
              - add: nickname
                backfill: "full_name"
            """, rule: "plan-missing-key", at: "3:5", ["'add: nickname' needs 'type'"]),
        BrokenPlan("split target without up", """
            table: users
            changes:
              - split: full_name
                into:
                  - column: given_name
                    type: text
                  - column: family_name
                    type: text
                    up: "full_name"
                down: "given_name"
            """, rule: "plan-missing-key", at: "5:9", ["a split target needs 'up'"]),
        BrokenPlan("change without a kind", """
            table: users
            changes:
              - altr: email
                rename_to: email_address
            """, rule: "plan-missing-key", at: "3:5", ["one of", "did you mean 'alter'?"]),
        BrokenPlan("check without expect", """
            \(validPlan)checks:
              - name: no_nulls
                sql: "SELECT count(*) FROM users WHERE email_address IS NULL"
            """, rule: "plan-missing-key", at: "6:5", ["a check needs 'expect'"]),

        // MARK: Invalid values
        BrokenPlan("two kinds in one change", """
            table: users
            changes:
              - alter: email
                drop: full_name
            """, rule: "plan-invalid-value", at: "3:5", ["exactly one kind", "alter and drop"]),
        BrokenPlan("gate before rollback", """
            \(validPlan)gates:
              - name: app-ready
                before: rollback
            """, rule: "plan-invalid-value", at: "7:13", ["'before' must be one of expand, backfill, verify, contract", "'rollback'"]),
        BrokenPlan("gate before a misspelt phase", """
            \(validPlan)gates:
              - name: app-ready
                before: contarct
            """, rule: "plan-invalid-value", at: "7:13", ["did you mean 'contract'?"]),
        BrokenPlan("bad on_delete", """
            table: profiles
            changes:
              - alter: created_by
                references: { table: users, column: id, on_delete: explode }
            """, rule: "plan-invalid-value", at: "4:56", ["'on_delete' must be one of cascade", "'explode'"]),
        BrokenPlan("batch_size below its minimum", """
            \(validPlan)backfill:
              batch_size: 0
            """, rule: "plan-invalid-value", at: "6:15", ["'batch_size' must be at least 1"]),
        BrokenPlan("no backfill workers", """
            \(validPlan)backfill:
              workers: 0
            """, rule: "plan-invalid-value", at: "6:12", ["'workers' must be at least 1, found 0"]),
        BrokenPlan("more backfill workers than allowed", """
            \(validPlan)backfill:
              workers: 9
            """, rule: "plan-invalid-value", at: "6:12", ["'workers' must be at most 8, found 9"]),
        BrokenPlan("unknown backfill pacing", """
            \(validPlan)backfill:
              pacing: gentel
            """, rule: "plan-invalid-value", at: "6:11", ["'pacing' must be one of adaptive, full, gentle", "did you mean 'gentle'?"]),
        BrokenPlan("split into one column", """
            table: users
            changes:
              - split: full_name
                into:
                  - { column: given_name, type: text, up: "full_name" }
                down: "given_name"
            """, rule: "plan-invalid-value", at: "5:7", ["at least two columns"]),
        BrokenPlan("empty column name", """
            table: users
            changes:
              - alter: ""
                rename_to: email_address
            """, rule: "plan-invalid-value", at: "3:12", ["'alter' must not be empty"]),
        BrokenPlan("unparsable table name", """
            table: a.b.c
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-invalid-value", at: "1:8", ["'table' must be a name or schema.name"]),

        // MARK: Files and dependencies
        BrokenPlan("file name without a number", validPlan, file: "rename_email.yaml", rule: "plan-file-name", at: "1:1", ["NNN_description.yaml"]),
        BrokenPlan("file name with two digits", validPlan, file: "10_rename_email.yaml", rule: "plan-file-name", at: "1:1", ["NNN_description.yaml"]),
        BrokenPlan("file name not snake_case", validPlan, file: "010_Rename-Email.yaml", rule: "plan-file-name", at: "1:1", ["snake_case"]),
        BrokenPlan("duplicate sequence numbers", files: [
            ("010_rename_email.yaml", validPlan),
            ("010_split_full_name.yaml", """
                table: users
                changes:
                  - alter: full_name
                    rename_to: display_name
                """),
        ], in: "plans/010_split_full_name.yaml", rule: "plan-duplicate-number", at: "1:1", ["010", "010_rename_email"]),
        BrokenPlan("missing plan dependency", """
            table: users
            depends_on:
              plans: [009_nothing_here]
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-missing-dependency", at: "3:11", ["plan \"009_nothing_here\" does not exist"]),
        BrokenPlan("missing migration dependency", """
            table: users
            depends_on:
              migrations:
                - 001_initial_schem
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-missing-dependency", at: "4:7", ["migration \"001_initial_schem\" does not exist", "did you mean \"001_initial_schema\"?"]),
        BrokenPlan("dependency on a later plan", files: [
            ("010_rename_email.yaml", """
                table: users
                depends_on: { plans: ["011"] }
                changes:
                  - alter: email
                    rename_to: email_address
                """),
            ("011_rename_full_name.yaml", """
                table: users
                changes:
                  - alter: full_name
                    rename_to: display_name
                """),
        ], rule: "plan-dependency-order", at: "2:23", ["depends on 011_rename_full_name", "does not come earlier"]),
        BrokenPlan("two plans change one column", files: [
            ("010_rename_email.yaml", validPlan),
            ("011_email_not_null.yaml", """
                table: public.users
                changes:
                  - alter: email
                    up: "coalesce(email, '')"
                """),
        ], in: "plans/011_email_not_null.yaml", rule: "plan-column-conflict", at: "3:12", ["both change public.users.email", "depend on the other"]),
        BrokenPlan("one plan changes a column twice", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
              - alter: email
                comment: changed twice
            """, rule: "plan-column-conflict", at: "5:12", ["\"email\" is already changed at 3:12"]),
        BrokenPlan("two changes leave a column under one name", """
            table: users
            changes:
              - alter: email
                rename_to: contact
              - add: contact
                type: text
            """, rule: "plan-column-conflict", at: "5:10", ["\"contact\" is already the result of the change at 3:12"],
            count: 2), // and plan-name-collision: both new columns would be named "contact"
        BrokenPlan("a rename onto a column the plan keeps", """
            table: users
            changes:
              - alter: email
                rename_to: full_name
              - alter: full_name
                comment: kept
            """, rule: "plan-column-conflict", at: "5:12", ["\"full_name\" is already the result of the change at 3:12"],
            count: 2), // and plan-column-exists at the rename

        // MARK: Names
        BrokenPlan("identifier over 63 bytes", """
            table: users
            changes:
              - alter: email
                rename_to: \(String(repeating: "a", count: 64))
            """, rule: "plan-identifier-too-long", at: "4:16", ["64 bytes", "63"]),
        BrokenPlan("identifier over 63 bytes in UTF-8", """
            table: users
            changes:
              - add: \(String(repeating: "é", count: 32))
                type: text
            """, rule: "plan-identifier-too-long", at: "3:10", ["64 bytes"]),
        BrokenPlan("reserved prefix", """
            table: users
            changes:
              - alter: email
                rename_to: _bellows_email
            """, rule: "plan-reserved-name", at: "4:16", ["reserved"]),
        BrokenPlan("reserved schema", """
            table: bellows.plans
            changes:
              - alter: phase
                rename_to: state
            """, rule: "plan-reserved-name", at: "1:8", ["schema \"bellows\""]),

        // MARK: up and down
        BrokenPlan("type change without up", """
            table: profiles
            changes:
              - alter: bio
                type: varchar(2000)
            """, rule: "plan-missing-up", at: "4:11", ["a type change needs 'up'"]),
        BrokenPlan("up without down on a new column", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                up: "lower(email)"
            """, rule: "plan-missing-down", at: "5:10", ["give 'down' too"]),
        BrokenPlan("split without down", """
            table: users
            changes:
              - split: full_name
                into:
                  - { column: given_name, type: text, up: "split_part(full_name, ' ', 1)" }
                  - { column: family_name, type: text, up: "split_part(full_name, ' ', 2)" }
            """, rule: "plan-missing-down", at: "3:12", ["a split needs 'down'"]),
        BrokenPlan("lossy down", """
            table: profiles
            changes:
              - alter: bio
                type: text
                up: "bio::text"
                down: "left(bio, 500)"
            """, rule: "plan-lossy-down", at: "6:12", ["may lose data"], severity: .warning),

        // MARK: Expressions, located inside the expression
        BrokenPlan("unbalanced parenthesis, plain scalar", """
            table: users
            changes:
              - alter: email
                up: lower(btrim(email)
                rename_to: email_address
                down: email_address
            """, rule: "plan-expression", at: "4:14", ["up:", "'(' at 1:6 is never closed"]),
        BrokenPlan("semicolon, plain scalar", """
            table: users
            changes:
              - alter: email
                up: lower(email); DROP TABLE users
                rename_to: email_address
                down: email_address
            """, rule: "plan-expression", at: "4:21", ["';' is not allowed"]),
        BrokenPlan("extra parenthesis after '' escapes, single-quoted", """
            table: users
            changes:
              - alter: email
                up: 'coalesce(email, ''n/a''))'
                rename_to: email_address
                down: email_address
            """, rule: "plan-expression", at: "4:34", ["')'", "no matching '('"]),
        BrokenPlan("extra parenthesis after escapes, double-quoted", """
            table: users
            changes:
              - alter: email
                up: "coalesce(\\"email\\", '\\u00e9\\t'))"
                rename_to: email_address
                down: email_address
            """, rule: "plan-expression", at: "4:41", ["')'", "no matching '('"]),
        BrokenPlan("unterminated string inside a double-quoted scalar", """
            table: users
            changes:
              - alter: email
                up: "lower(email) || 'abc"
                rename_to: email_address
                down: email_address
            """, rule: "plan-expression", at: "4:26", ["unterminated string literal"]),
        BrokenPlan("unterminated dollar quote", """
            table: users
            changes:
              - alter: email
                up: "$x$abc || email"
                rename_to: email_address
                down: email_address
            """, rule: "plan-expression", at: "4:10", ["unterminated dollar-quoted string $x$"]),
        BrokenPlan("extra parenthesis on the third line of a block scalar", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                up: |
                  coalesce(
                    email,
                    'n/a'))
                down: email_address
            """, rule: "plan-expression", at: "8:15", ["')'", "no matching '('"]),
        BrokenPlan("semicolon on the second line of a folded scalar", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                up: >-
                  coalesce(email,
                  'n/a');
                down: email_address
            """, rule: "plan-expression", at: "7:13", ["';' is not allowed"]),
        BrokenPlan("semicolon on a more-indented line of a folded scalar", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                up: >-
                  coalesce(email,
                    'n/a');
                down: email_address
            """, rule: "plan-expression", at: "7:15", ["';' is not allowed"]),
        BrokenPlan("semicolon on a continuation line of a plain scalar", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                up: coalesce(email,
                  'n/a');
                down: email_address
            """, rule: "plan-expression", at: "6:13", ["';' is not allowed"]),
        BrokenPlan("line comment would swallow the rest of the SQL", """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                up: "lower(email) -- normalised"
                down: email_address
            """, rule: "plan-expression", at: "5:23", ["'--'", "/* */"]),
        BrokenPlan("unbalanced check", """
            table: skills
            changes:
              - alter: name
                check: "name IN ('a', 'b'"
            """, rule: "plan-expression", at: "4:21", ["check:", "never closed"]),
        BrokenPlan("empty default", """
            table: skills
            changes:
              - alter: category
                default: "  "
            """, rule: "plan-invalid-value", at: "4:14", ["'default' must not be empty"]),

        // MARK: Checks and gates
        BrokenPlan("duplicate check names", """
            \(validPlan)checks:
              - name: no_nulls
                sql: "SELECT count(*) FROM users WHERE email_address IS NULL"
                expect: 0
              - name: no_nulls
                sql: "SELECT count(*) FROM users WHERE email_address = ''"
                expect: 0
            """, rule: "plan-duplicate-name", at: "9:11", ["check \"no_nulls\" is defined twice"]),
        BrokenPlan("duplicate gate names", """
            \(validPlan)gates:
              - { name: ready, before: contract }
              - { name: ready, before: expand }
            """, rule: "plan-duplicate-name", at: "7:13", ["gate \"ready\" is defined twice"]),

        // MARK: Against the migrations' schema
        BrokenPlan("unknown column", """
            table: users
            changes:
              - alter: emial
                rename_to: email_address
            """, rule: "plan-unknown-column", at: "3:12", ["column \"emial\" does not exist in public.users", "did you mean \"email\"?"]),
        BrokenPlan("unknown table", """
            table: userz
            changes:
              - alter: email
                rename_to: email_address
            """, rule: "plan-unknown-table", at: "1:8", ["no migration creates table userz"], severity: .warning),
        BrokenPlan("new column already exists", """
            table: users
            changes:
              - add: full_name
                type: text
            """, rule: "plan-column-exists", at: "3:10", ["\"full_name\" already exists"]),
        BrokenPlan("dropping a NOT NULL column without down", """
            table: users
            changes:
              - drop: email
            """, rule: "plan-missing-down", at: "3:11", ["NOT NULL without a default"]),
        // hostile-d 40: old code's inserts would fail from expand on, and existing rows stay NULL.
        BrokenPlan("adding a NOT NULL column without default or backfill", """
            table: users
            changes:
              - add: status
                type: text
                not_null: true
            """, rule: "plan-missing-default", at: "5:15", ["old code", "'default'", "'backfill'", "later plan"]),
        // hostile-e 03: expand committed, then backfill and rollback failed 42601 for ever.
        BrokenPlan("a collation in type", """
            table: users
            changes:
              - alter: email
                type: text COLLATE "C"
                up: email
                down: email
            """, rule: "plan-type-collation", at: "4:11", ["collation", "migration"]),
        BrokenPlan("changing the primary key", """
            table: users
            changes:
              - alter: id
                rename_to: user_id
            """, rule: "plan-changes-key", at: "1:8", ["part of the table's key"]),
    ]

    @Test(arguments: cases)
    func reportsTheFindingAtItsPlace(_ broken: BrokenPlan) {
        let findings = check(broken.files)
        let file = "plans/" + (broken.file.map { $0.replacingOccurrences(of: "plans/", with: "") } ?? broken.files[0].name)
        let matching = findings.filter { $0.rule == broken.rule && $0.file == file }
        guard let finding = matching.first else {
            Issue.record("no \(broken.rule) finding in \(file); got:\n\(findings.map(\.description).joined(separator: "\n"))")
            return
        }
        #expect("\(finding.line):\(finding.column)" == broken.at, "\(finding)")
        #expect(finding.severity == broken.severity, "\(finding)")
        for word in broken.words {
            #expect(finding.message.contains(word), "message lacks \"\(word)\": \(finding.message)")
        }
        let sameSeverity = findings.filter { $0.severity == broken.severity }
        #expect(sameSeverity.count == broken.count, "expected \(broken.count) \(broken.severity)(s):\n\(sameSeverity.map(\.description).joined(separator: "\n"))")
    }

    @Test func theValidBaseHasNoErrorsOrWarnings() {
        #expect(check(validPlan).filter { $0.severity >= .warning }.isEmpty)
    }

    /// A swap takes each name the other change moves away: check accepts what the engine
    /// performs (hostile finding 26; ChangeKindTests' "column swap" runs it).
    @Test func aColumnSwapIsAccepted() {
        let findings = check("""
            table: users
            changes:
              - alter: email
                rename_to: full_name
              - alter: full_name
                rename_to: email
            """)
        #expect(findings.filter { $0.severity == .error }.isEmpty, "\(findings)")
    }

    @Test func everyErrorOfAFileInOneRun() {
        let findings = check("""
            table: profiles
            changes:
              - alter: created_by
                not_null: "yes"
                unique: maybe
                references: { table: users, column: id, on_delete: explode }
                comments: none
            backfill:
              batch_size: -3
            """)
        #expect(summary(findings) == [
            "4:15 plan-wrong-type", "5:13 plan-wrong-type", "6:56 plan-invalid-value", "7:5 plan-unknown-key", "9:15 plan-invalid-value",
        ])
    }

    @Test func threeIndependentErrorsGiveThreeFindings() {
        let findings = check("""
            table: users
            changes:
              - alter: email
                rename_to: email_address
                not_null: "yes"
            checks:
              - name: nothing
                sql: "SELECT 1"
                expect: 1
                severity: high
            backfill:
              batch_size: fast
            """)
        #expect(summary(findings) == ["5:15 plan-wrong-type", "10:5 plan-unknown-key", "12:15 plan-wrong-type"])
    }

    @Test func everyFileIsReportedInOneRun() {
        let findings = check([
            ("010_a.yaml", "table: users\nchanges: 5\n"),
            ("011_b.yaml", "table: [users]\nchanges:\n  - alter: email\n    rename_to: email_address\n"),
            ("012_c.yaml", "table: users\nchanges:\n  - alter: email\n    rename_to: _bellows_x\n"),
            ("013_d.yaml", "table: users\n  bad: [\n"),
        ])
        #expect(Set(findings.filter { $0.severity == .error }.map(\.file)) == ["plans/010_a.yaml", "plans/011_b.yaml", "plans/012_c.yaml", "plans/013_d.yaml"])
    }

    @Test func validatorErrorsOfAPlanAreAllReported() {
        // Loader-clean, but three validator errors: a reserved name, a type change without up, a malformed check.
        let findings = check("""
            table: profiles
            changes:
              - alter: bio
                type: text
              - add: _bellows_extra
                type: text
              - alter: headline
                check: "length(headline) < 80)"
            """)
        #expect(summary(findings.filter { $0.severity == .error }) == [
            "4:11 plan-missing-up", "5:10 plan-reserved-name", "8:34 plan-expression",
        ])
    }
}
