import BellowsSQL

/// A value read from a plan file together with where it was written.
public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// An SQL expression from a plan (`up`, `down`, `check`, `default`, `backfill`), kept verbatim.
/// `location` is its first character (inside any YAML quotes); `sourceMap` places every other
/// character (YAML escapes, folded lines, block indentation), see `sourceLocation(line:column:)`.
public struct PlanExpression: Sendable, Hashable {
    public var text: String
    public var location: SourceLocation
    public var sourceMap: ExpressionSourceMap?

    public init(_ text: String, at location: SourceLocation, sourceMap: ExpressionSourceMap? = nil) {
        self.text = text
        self.location = location
        self.sourceMap = sourceMap
    }
}

/// A table name, optionally schema-qualified.
public struct TableName: Sendable, Hashable, CustomStringConvertible {
    public var schema: String?
    public var name: String

    public init(schema: String?, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses `table` or `schema.table` (either part may be double-quoted).
    public init?(parsing text: String) {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var iterator = Array(text).makeIterator()
        var previousWasQuote = false
        while let c = iterator.next() {
            if c == "\"" {
                if quoted { quoted = false; previousWasQuote = true; continue }
                if previousWasQuote { current.append("\""); quoted = true; previousWasQuote = false; continue }
                quoted = true; continue
            }
            previousWasQuote = false
            if c == "." && !quoted { parts.append(current); current = ""; continue }
            current.append(c)
        }
        parts.append(current)
        guard !quoted, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        switch parts.count {
        case 1: self.init(schema: nil, name: parts[0])
        case 2: self.init(schema: parts[0], name: parts[1])
        default: return nil
        }
    }

    /// `"schema"."name"`; without a schema, `"name"` (resolved through `search_path`).
    public var quoted: String { SQLQuote.qualified(schema: schema, name: name) }

    /// The schema to use in catalog look-ups (`public` when not given).
    public var effectiveSchema: String { schema ?? "public" }

    public var description: String { schema.map { "\($0).\(name)" } ?? name }
}

public enum ReferentialAction: String, Sendable, Hashable, CaseIterable {
    case cascade, restrict
    case setNull = "set null"
    case setDefault = "set default"
    case noAction = "no action"

    public var sql: String { rawValue.uppercased() }

    /// Whether the action deletes or rewrites referencing rows (rather than refusing the write).
    public var changesRows: Bool { self == .cascade || self == .setNull || self == .setDefault }
}

/// `references: { table: users, column: id, on_delete: cascade }`.
public struct ForeignKeyReference: Sendable, Hashable {
    public var table: Located<String>
    public var column: Located<String>
    public var onDelete: ReferentialAction?
    public var location: SourceLocation

    public var tableName: TableName { TableName(parsing: table.value) ?? TableName(schema: nil, name: table.value) }
}

/// The constraint-like attributes a change can give its resulting column.
public struct ColumnAttributes: Sendable, Hashable {
    /// true: make NOT NULL; false: drop NOT NULL; nil: leave as is.
    public var notNull: Located<Bool>?
    public var defaultValue: PlanExpression?
    public var dropDefault: Located<Bool>?
    public var check: PlanExpression?
    public var unique: Located<Bool>?
    public var references: ForeignKeyReference?
    public var comment: Located<String>?
    /// `comment: null`: the column's comment is removed (where `comment:` was written).
    public var removesComment: SourceLocation?

    public init() {}

    public var isEmpty: Bool {
        notNull == nil && defaultValue == nil && dropDefault == nil && check == nil
            && unique == nil && references == nil && comment == nil && removesComment == nil
    }
}

/// `carry: { unique: false, references: false, checks: false }` on a rebuilt column (an
/// `alter` with `rename_to` or `type`): which of the old column's constraints its replacement
/// does *not* inherit. Each key absent or `true` keeps the default (carried over).
public struct CarryOptions: Sendable, Hashable {
    /// UNIQUE constraints and unique indexes over the column (single- and multi-column).
    public var unique: Located<Bool>?
    /// Foreign keys from the column (single- and multi-column).
    public var references: Located<Bool>?
    /// CHECK constraints over the column.
    public var checks: Located<Bool>?
    public var location: SourceLocation

    public init(location: SourceLocation) { self.location = location }

    public var carriesUnique: Bool { unique?.value ?? true }
    public var carriesReferences: Bool { references?.value ?? true }
    public var carriesChecks: Bool { checks?.value ?? true }
}

/// An existing column changed in some way: renamed, retyped, constrained.
public struct AlterColumn: Sendable, Hashable {
    public var column: Located<String>
    public var renameTo: Located<String>?
    public var type: Located<String>?
    public var up: PlanExpression?
    public var down: PlanExpression?
    public var attributes: ColumnAttributes
    /// What the rebuilt column does not inherit from the old one.
    public var carry: CarryOptions? = nil

    /// The column's name once the plan is contracted.
    public var finalName: String { renameTo?.value ?? column.value }
}

public struct AddColumn: Sendable, Hashable {
    public var column: Located<String>
    public var type: Located<String>
    public var backfill: PlanExpression?
    public var attributes: ColumnAttributes
}

public struct DropColumn: Sendable, Hashable {
    public var column: Located<String>
    /// Keeps filling the doomed column for old code while new code no longer writes it.
    public var down: PlanExpression?
}

public struct SplitTarget: Sendable, Hashable {
    public var column: Located<String>
    public var type: Located<String>
    public var up: PlanExpression
    public var attributes: ColumnAttributes
}

public struct SplitColumn: Sendable, Hashable {
    public var column: Located<String>
    public var into: [SplitTarget]
    public var down: PlanExpression?
}

public struct MergeColumns: Sendable, Hashable {
    public var columns: [Located<String>]
    public var into: Located<String>
    public var type: Located<String>
    public var up: PlanExpression
    /// How each merged column is rebuilt from the merged value, keyed by the old column.
    public var down: [String: PlanExpression]
    public var attributes: ColumnAttributes
}

/// One column change of a plan. All changes of a plan move through the phases together.
public enum Change: Sendable, Hashable {
    case alter(AlterColumn)
    case add(AddColumn)
    case drop(DropColumn)
    case split(SplitColumn)
    case merge(MergeColumns)

    public var kindName: String {
        switch self {
        case .alter: return "alter"
        case .add: return "add"
        case .drop: return "drop"
        case .split: return "split"
        case .merge: return "merge"
        }
    }

    /// Where the change starts in the plan file (its `- alter:` key).
    public var location: SourceLocation {
        switch self {
        case .alter(let c): return c.column.location
        case .add(let c): return c.column.location
        case .drop(let c): return c.column.location
        case .split(let c): return c.column.location
        case .merge(let c): return c.into.location
        }
    }

    /// Existing columns the change reads or replaces.
    public var existingColumns: [String] {
        switch self {
        case .alter(let c): return [c.column.value]
        case .add: return []
        case .drop(let c): return [c.column.value]
        case .split(let c): return [c.column.value]
        case .merge(let c): return c.columns.map(\.value)
        }
    }

    /// Columns the change creates (under their final names).
    public var createdColumns: [String] {
        switch self {
        case .alter(let c): return c.renameTo.map { [$0.value] } ?? []
        case .add(let c): return [c.column.value]
        case .drop: return []
        case .split(let c): return c.into.map(\.column.value)
        case .merge(let c): return [c.into.value]
        }
    }

    /// The names the change's columns have after contract (an in-place alter keeps its column's).
    public var finalColumns: [String] {
        switch self {
        case .alter(let c): return [c.finalName]
        default: return createdColumns
        }
    }

    /// Every column name the change touches, existing or new.
    public var touchedColumns: [String] { existingColumns + createdColumns }
}

/// A named SQL query the plan's author asserts, run at verify and again before contract.
public struct PlanCheck: Sendable, Hashable {
    public var name: Located<String>
    public var sql: PlanExpression
    /// The single value the query must return, as written (`0`, `true`, `ok`).
    public var expect: Located<String>
    /// What `expect` means, by its YAML type: how the query's value is compared with it.
    public var expectation: CheckExpectation

    public init(name: Located<String>, sql: PlanExpression, expect: Located<String>, expectation: CheckExpectation? = nil) {
        self.name = name
        self.sql = sql
        self.expect = expect
        self.expectation = expectation ?? .text(expect.value)
    }
}

/// A check's expected value by its YAML type. A query's value arrives in PostgreSQL's text
/// form, so a plain `true` must match `t`, and a plain `0` must match `0.0` of a numeric.
public enum CheckExpectation: Sendable, Hashable {
    /// A plain `true`/`false` (any case): PostgreSQL's `t`/`f` (or the text `true`/`false`).
    case boolean(Bool)
    /// A plain number (`0`, `-2.5`, `1e3`): any numeric text of the same value (`0.00`, `1000`).
    case number(String)
    /// A plain `null`, `~` or nothing: SQL NULL.
    case null
    /// Anything else, and every quoted scalar: the same text, character for character.
    case text(String)

    /// `text` as YAML gives it, `plain` when it was written without quotes or block style.
    public init(yaml text: String, plain: Bool) {
        if !plain { self = .text(text) }
        else if ["", "~", "null", "Null", "NULL"].contains(text) { self = .null }
        else if let value = Bool(text.lowercased()) { self = .boolean(value) }
        else if Self.decimal(text) != nil { self = .number(text) }
        else { self = .text(text) }
    }

    /// Whether the query's value (its text form, `nil` for NULL) is the expected one.
    public func matches(_ value: String?) -> Bool {
        switch self {
        case .null: return value == nil
        case .text(let text): return value == text
        case .boolean(let expected):
            switch value {
            case "t", "true": return expected
            case "f", "false": return !expected
            default: return false
            }
        case .number(let text):
            guard let value, let got = Self.decimal(value), let expected = Self.decimal(text) else { return false }
            return got == expected
        }
    }

    /// How reports name it: numbers and booleans as written, text in quotes.
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .boolean(let value): return value ? "true" : "false"
        case .number(let text): return text
        case .text(let text): return "\"\(text)\" (as text)"
        }
    }

    /// A number in decimal or scientific notation (no spaces, no hex, no `NaN`), normalised:
    /// sign, significant digits without leading or trailing zeros, and the exponent of the
    /// last digit; `nil` for anything else. `0`, `-0.0` and `0e5` are all zero.
    static func decimal(_ text: String) -> (negative: Bool, digits: String, exponent: Int)? {
        var scalars = Substring(text)
        var negative = false
        if let sign = scalars.first, sign == "+" || sign == "-" { negative = sign == "-"; scalars = scalars.dropFirst() }
        var mantissa = scalars
        var exponent = 0
        if let e = scalars.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = scalars[..<e]
            var power = scalars[scalars.index(after: e)...]
            var negativePower = false
            if let sign = power.first, sign == "+" || sign == "-" { negativePower = sign == "-"; power = power.dropFirst() }
            guard !power.isEmpty, power.count < 10, power.allSatisfy({ $0.isASCII && $0.isNumber }), let p = Int(power) else { return nil }
            exponent = negativePower ? -p : p
        }
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts.first ?? ""
        let fraction = parts.count > 1 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty),
              (whole + fraction).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var digits = String(whole + fraction)
        exponent -= fraction.count
        while digits.hasPrefix("0") { digits.removeFirst() }
        while digits.hasSuffix("0") { digits.removeLast(); exponent += 1 }
        if digits.isEmpty { return (false, "", 0) }
        return (negative, digits, exponent)
    }
}

public enum Phase: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case planned, expanded, backfilled, verified, contracted, rolledBack = "rolled_back"

    /// Order along the forward path; `rolled_back` sorts with `planned`.
    public var rank: Int {
        switch self {
        case .planned, .rolledBack: return 0
        case .expanded: return 1
        case .backfilled: return 2
        case .verified: return 3
        case .contracted: return 4
        }
    }

    public static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rank < rhs.rank }
}

/// The phase commands, each moving a plan along the state machine.
public enum PhaseCommand: String, Sendable, Hashable, CaseIterable, Codable {
    case expand, backfill, verify, contract, rollback

    /// The phase a plan must be in for the command to run.
    public var requiredPhases: [Phase] {
        switch self {
        case .expand: return [.planned, .rolledBack]
        case .backfill: return [.expanded, .backfilled]
        case .verify: return [.backfilled, .verified]
        case .contract: return [.verified]
        case .rollback: return [.expanded, .backfilled, .verified]
        }
    }

    /// The phase the command leaves the plan in when it succeeds.
    public var resultingPhase: Phase {
        switch self {
        case .expand: return .expanded
        case .backfill: return .backfilled
        case .verify: return .verified
        case .contract: return .contracted
        case .rollback: return .rolledBack
        }
    }

    /// What `advance --through` runs next for a plan in `phase`: nil when the plan is already
    /// at or past `through` (an upper bound, never passed), or contracted. A half-done expand
    /// always resumes, as it is what the plan stands in.
    public static func next(after phase: Phase, expanding: Bool, through: PhaseCommand?) -> PhaseCommand? {
        if expanding { return .expand }
        if let through, phase.rank >= through.resultingPhase.rank { return nil }
        return next(after: phase)
    }

    /// The next forward command for a plan in `phase`, nil when contracted.
    public static func next(after phase: Phase) -> PhaseCommand? {
        switch phase {
        case .planned, .rolledBack: return .expand
        case .expanded: return .backfill
        case .backfilled: return .verify
        case .verified: return .contract
        case .contracted: return nil
        }
    }
}

/// A manual confirmation a release manager must give before a phase runs.
public struct PlanGate: Sendable, Hashable {
    public var name: Located<String>
    public var before: Located<PhaseCommand>
    public var description: String?
}

/// When the backfill slows down to leave room for other sessions.
public enum BackfillPacing: String, Sendable, Hashable, Codable, CaseIterable {
    /// Full speed while no other session is active on the server, gentle while any is, with
    /// longer rests while they wait behind the backfill.
    case adaptive
    /// Always full speed: batches of `target_batch_ms`, then `pause_ms`.
    case full
    /// Always gentle: batches of `gentle_batch_ms`, each followed by a proportional rest,
    /// longer while other sessions wait behind the backfill.
    case gentle
}

/// How the backfill paces itself. Every field has a default.
public struct BackfillSettings: Sendable, Hashable, Codable {
    public var batchSize: Int = 1000
    public var targetBatchMilliseconds: Int = 200
    public var pauseMilliseconds: Int = 0
    public var lockTimeoutMilliseconds: Int = 2000
    public var statementTimeoutMilliseconds: Int = 60_000
    public var retries: Int = 5
    public var maxReplicaLagMilliseconds: Int? = nil
    /// Run `VACUUM` on the table after this many updated rows; 0 = never; nil = after each
    /// tenth of the table, at least 10,000 rows apart.
    public var vacuumEveryRows: Int? = nil
    /// Full speed while the backfill has the server to itself, gentle while others are active.
    public var pacing: BackfillPacing = .adaptive
    /// Batch duration aimed at while pacing gently.
    public var gentleBatchMilliseconds: Int = 20
    /// Rest after each batch while pacing gently, as a percentage of the batch's duration
    /// (gh-ost's nice ratio, × 100).
    public var gentleRestPercent: Int = 100
    /// Sessions that walk the table side by side at full speed (1 = one session). Gentle
    /// batches always run one at a time.
    public var workers: Int = 2
    /// The most `workers` a plan may ask for.
    public static let maximumWorkers = 8

    public init() {}
}

/// `rehearse: values:` — what `bellows rehearse`'s generator and simulated writers put in one
/// column of the plan's table (an existing column or one the plan creates), instead of what they
/// derive from its type, CHECK constraints, enum labels and existing rows.
public struct RehearsalValues: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        /// Values written as text and cast to the column's type; writers pick among them.
        case list([String])
        /// An SQL expression of the row number `g` (a bigint, distinct for every generated row
        /// and write): for a column whose values must be unique.
        case expression(PlanExpression)
    }
    public var column: Located<String>
    public var source: Source
}

public struct PlanDependencies: Sendable, Hashable {
    public var migrations: [Located<String>] = []
    public var plans: [Located<String>] = []
    public init() {}
}

/// One plan file, loaded.
public struct Plan: Sendable, Hashable {
    /// The file's stem, e.g. `001_rename_users_email`: the plan's identity in the state table.
    public var id: String
    /// The `NNN` sequence number from the file name, nil when the name does not follow the pattern.
    public var number: Int?
    public var file: String
    /// SHA-256 of the file's bytes: contract refuses when it changed since expand.
    public var checksum: String
    public var table: Located<TableName>
    public var description: String?
    public var dependsOn: PlanDependencies
    public var changes: [Change]
    public var checks: [PlanCheck]
    public var gates: [PlanGate]
    public var backfill: BackfillSettings
    /// The file's text as loaded: what expand stores in `bellows.plans.plan_text`.
    public var source: String = ""
    /// Table-level constraint changes (`add_unique`, `add_foreign_key`, `add_check`,
    /// `drop_constraint` items of `changes:`), in file order; they move through the phases
    /// with the column changes.
    public var constraintChanges: [ConstraintChange] = []
    /// `rehearse: values:` hints for the rehearsal's generator and writers, by column.
    public var rehearsalValues: [RehearsalValues] = []
    /// `versioned_schemas: true`: while the plan is in flight, a schema of views per
    /// application version (docs/versions.md). Off by default: the views read every column of
    /// the table, so any migration dropping or retyping one of its columns fails while they exist.
    public var versionedSchemas = false
    /// `strategy:` as written (`copy`, the default, or `views`): how a rename reaches the new
    /// version. `views` renames with `ALTER TABLE … RENAME COLUMN` at contract, no new column,
    /// trigger or backfill; the versioned schemas give each version its name meanwhile
    /// (docs/versions.md, `ViewsStrategy`).
    public var strategyKey: Located<PlanStrategy>? = nil

    /// The plan's strategy: `copy` unless it says `views`.
    public var strategy: PlanStrategy { strategyKey?.value ?? .copy }
    /// `move_columns: { to, columns }`: the plan moves columns of its table into a new table
    /// (`ColumnMove`); such a plan has no `changes`.
    public var moveColumns: MoveColumns? = nil

    /// `archive: false`: contract does not keep the columns it drops in `bellows_archive`
    /// (`ArchiveSQL`); nil: `bellows.yaml`'s `archive:` decides, else contract archives.
    public var archive: Located<Bool>? = nil

    /// `rename_table_to: NAME`: the plan renames its table (`TableRename`, docs/plans.md);
    /// such a plan has no column changes.
    public var renameTableTo: Located<String>? = nil

    /// A plan that renames its table and nothing else (`rename_table_to` alone): a view under
    /// the new name and `ALTER TABLE … RENAME`, no index, column, trigger or backfill, so the
    /// column plans' refusals of a partitioned table or an inheritance parent (indexes built
    /// concurrently, the trigger and backfill covering one table) do not apply (hostile-h 22).
    public var renamesTableOnly: Bool {
        renameTableTo != nil && changes.isEmpty && constraintChanges.isEmpty && moveColumns == nil
    }

    /// The table's name once the plan is contracted.
    public var finalTableName: TableName {
        renameTableTo.map { TableName(schema: table.value.schema, name: $0.value) } ?? table.value
    }

    /// Gates that must be confirmed before `command` runs.
    public func gates(before command: PhaseCommand) -> [PlanGate] {
        gates.filter { $0.before.value == command }
    }

    /// Why `name` is none of this plan's gates, nil when it is one: a mistyped `--confirm` or
    /// `approve` would otherwise leave the real gate closed with only "not confirmed" to say why.
    public func unknownGateMessage(_ name: String) -> String? {
        let names = gates.map(\.name.value)
        guard !names.contains(name) else { return nil }
        guard !gates.isEmpty else { return "plan \(id) has no gate \"\(name)\": it has no manual gates" }
        let suggestion = Suggestion.closest(to: name, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
        return "plan \(id) has no gate \"\(name)\"\(suggestion); its gates: "
            + gates.map { "\($0.name.value) (before \($0.before.value.rawValue))" }.joined(separator: ", ")
    }
}

/// How a plan brings a column to its new shape (`strategy:`, docs/plans.md).
public enum PlanStrategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// A new column beside the old one, a dual-write trigger, a backfill and verify (the default).
    case copy
    /// No copy: the versioned schemas' views give each application version its names, and
    /// contract renames the column in place (`ViewsStrategy`).
    case views
}

/// `references:` of a table-level foreign key: `{ table, columns: [...], on_delete }`.
public struct TableForeignKeyReference: Sendable, Hashable {
    public var table: Located<String>
    public var columns: [Located<String>]
    public var onDelete: ReferentialAction?
    public var location: SourceLocation

    public var tableName: TableName { TableName(parsing: table.value) ?? TableName(schema: nil, name: table.value) }
}

/// A change to the table's constraints rather than to one column: a UNIQUE, FOREIGN KEY or
/// CHECK over any number of columns added (NOT VALID / a concurrent index at expand, validated
/// at verify, in place at contract), or a constraint dropped by name (at contract). Written in
/// `changes:` as `add_unique`, `add_foreign_key`, `add_check` or `drop_constraint`.
public enum ConstraintChange: Sendable, Hashable {
    /// `add_unique: [a, b]`, columns by their final names.
    case unique(columns: [Located<String>], name: Located<String>?, location: SourceLocation)
    /// `add_foreign_key: [a, b]` with `references: { table, columns, on_delete }`.
    case foreignKey(columns: [Located<String>], references: TableForeignKeyReference, name: Located<String>?, location: SourceLocation)
    /// `add_check: "expression"` over final column names.
    case check(expression: PlanExpression, name: Located<String>?, location: SourceLocation)
    /// `drop_constraint: name`: a foreign key, UNIQUE, CHECK or (by PostgreSQL 18's name
    /// `<table>_<column>_not_null`) NOT NULL of the table.
    case drop(name: Located<String>)

    public var kindName: String {
        switch self {
        case .unique: return "add_unique"
        case .foreignKey: return "add_foreign_key"
        case .check: return "add_check"
        case .drop: return "drop_constraint"
        }
    }

    public var location: SourceLocation {
        switch self {
        case .unique(_, _, let l), .foreignKey(_, _, _, let l), .check(_, _, let l): return l
        case .drop(let name): return name.location
        }
    }

    /// The `name:` given to an added constraint.
    public var givenName: Located<String>? {
        switch self {
        case .unique(_, let n, _), .foreignKey(_, _, let n, _), .check(_, let n, _): return n
        case .drop: return nil
        }
    }
}
