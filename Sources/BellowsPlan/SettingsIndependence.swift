/// Whether a plan's `up` and `down` expressions compute the same value under every session
/// setting `PhaseSQL.expressionSettings` lists, judged from what PostgreSQL compiled them to:
/// the stored node tree of a view over each expression (`pg_rewrite.ev_action`), read at expand.
/// When they do, the trigger's function keeps no setting: the 14 comparisons of the writer's
/// settings it otherwise makes on every write are a third of its cost (issue 22).
///
/// The judgement is an allow-list, so that a node or function it does not know keeps the
/// settings, as before:
/// - every node is one of `allowedNodes` (no I/O coercion, no domain, no SQL value function
///   such as `current_date`, no sublink, no XML, no aggregate);
/// - every function called, directly or behind an operator, is built in (an OID below 16384:
///   a user's or an extension's `IMMUTABLE` label is a promise PostgreSQL does not check, and
///   wrappers of `to_char` marked immutable for an index are common), `IMMUTABLE`, and not a
///   type's input, output, receive or send function (`float8out` is immutable yet reads
///   `extra_float_digits`), written in C (a built-in `LANGUAGE sql` function's body is parsed
///   when called, under the caller's settings);
/// - every constant is of a type whose literal parses alike under every setting
///   (`constantTypes`: no date, time, interval, money, array or XML literal, which the writer's
///   session would parse when PL/pgSQL first plans the expression), and every value of the
///   expression (columns, results) of one of those types (`valueTypes`: PostgreSQL marks
///   `age(timestamptz, timestamptz)` immutable and computes it in the session's TimeZone);
/// - the expression's text has no backslash and no `U&` string (`standard_conforming_strings`:
///   with it off, a Unicode escape cannot parse at all) and no `NULL` literal, which the probe
///   compiles under `transform_null_equals = off` so that `x = /* … */ NULL` keeps one
///   (the settings that change how the text parses).
public enum SettingsIndependence {
    /// What a node tree holds that the judgement needs.
    public struct NodeFacts: Sendable, Hashable {
        public var nodes: Set<String> = []
        public var functions: Set<UInt32> = []
        public var operators: Set<UInt32> = []
        public var constantTypes: Set<UInt32> = []
        /// Every type a node of the expression has (a column's, a literal's, a function's or
        /// an operator's result, a CASE's…): a value of a type outside `valueTypes` may be
        /// compared or ordered by functions the tree does not name (a range's or a record's
        /// comparison under `greatest`) or taken apart under a setting by an immutable built-in
        /// (`age(timestamptz, timestamptz)` in the session's TimeZone, a jsonpath's
        /// `.datetime()` under lc_time, hostile-t).
        public var valueTypes: Set<UInt32> = []
        /// A `NULL` literal: compiled under `transform_null_equals = off`, as the probe is,
        /// `x = NULL` in any spelling (a comment or a form feed around the `=`) keeps one.
        public var nullConstant = false
    }

    /// What the catalog says of a function the tree calls.
    public struct FunctionFacts: Sendable, Hashable {
        public var oid: UInt32
        /// `pg_proc.provolatile`: `i`, `s` or `v`.
        public var volatility: String
        /// A type's input, output, receive or send function.
        public var typeIO: Bool
        /// `pg_language.lanname`: a `sql` or PL function's body is parsed when called, under
        /// the caller's `standard_conforming_strings`; only `internal` and `c` are judged.
        public var language: String
        /// `pg_proc.proname`.
        public var name: String

        public init(oid: UInt32, volatility: String, typeIO: Bool, language: String = "internal", name: String = "") {
            self.oid = oid
            self.volatility = volatility
            self.typeIO = typeIO
            self.language = language
            self.name = name
        }
    }

    /// The node tags a settings-independent expression's view may hold: the query's scaffolding
    /// and the expression nodes whose value depends only on their inputs and their function.
    public static let allowedNodes: Set<String> = [
        "QUERY", "RANGETBLENTRY", "RTEPERMISSIONINFO", "ALIAS", "FROMEXPR", "RANGETBLREF", "TARGETENTRY",
        "VAR", "CONST", "FUNCEXPR", "OPEXPR", "DISTINCTEXPR", "NULLIFEXPR", "RELABELTYPE", "COALESCEEXPR",
        "CASEEXPR", "CASEWHEN", "CASETESTEXPR", "NULLTEST", "BOOLEANTEST", "BOOLEXPR", "MINMAXEXPR",
    ]

    /// Types whose literals parse alike under every setting: bool, bytea, "char", name, int8,
    /// int2, int4, text, json, float4, float8, bpchar, varchar, numeric, uuid, jsonb.
    public static let constantTypes: Set<UInt32> = [16, 17, 18, 19, 20, 21, 23, 25, 114, 700, 701, 1042, 1043, 1700, 2950, 3802]

    /// Types every value of the expression may have: the same as `constantTypes`; no date,
    /// time, interval, money, range, array, record, jsonpath, xml, domain or type of one's own.
    public static let valueTypes: Set<UInt32> = constantTypes

    /// The fields of a node that name its value's type.
    static let typeFields: Set<String> = ["vartype", "consttype", "funcresulttype", "opresulttype", "resulttype",
                                          "coalescetype", "minmaxtype", "casetype", "typeId"]

    /// Built-in functions marked `IMMUTABLE` that read a setting all the same: `timezone(text,
    /// timestamp)` (`AT TIME ZONE 'IST'`) looks an abbreviation up in `timezone_abbreviations`,
    /// and `quote_ident` quotes every name under `quote_all_identifiers`.
    public static let settingReadingFunctions: Set<String> = ["timezone", "quote_ident"]

    /// PostgreSQL's first OID for objects made after `initdb` (`FirstNormalObjectId`).
    public static let firstUserObjectID: UInt32 = 16384

    /// The tags, called functions, operators and constants' types of a `pg_node_tree` text.
    /// Strings in the text (`:colnames ("a{b")`) escape `{`, `}` and spaces with a backslash
    /// (`outToken`), so an unescaped `{` always opens a node.
    public static func scan(_ tree: String) -> NodeFacts {
        var facts = NodeFacts()
        let bytes = Array(tree.utf8)
        var i = 0
        var currentNode = ""
        func word(from start: Int) -> (String, Int) {
            var j = start
            while j < bytes.count, bytes[j] != UInt8(ascii: " "), bytes[j] != UInt8(ascii: "}"), bytes[j] != UInt8(ascii: ")") { j += 1 }
            return (String(decoding: bytes[start..<j], as: UTF8.self), j)
        }
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"):
                i += 2
            case UInt8(ascii: "{"):
                let (tag, end) = word(from: i + 1)
                facts.nodes.insert(tag)
                currentNode = tag
                i = end
            case UInt8(ascii: ":"):
                let (field, end) = word(from: i + 1)
                i = end
                guard ["funcid", "opfuncid", "opno", "constisnull"].contains(field) || typeFields.contains(field) else { continue }
                while i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
                let (value, after) = word(from: i)
                i = after
                if field == "constisnull" {
                    if currentNode == "CONST" && value == "true" { facts.nullConstant = true }
                    continue
                }
                guard let oid = UInt32(value) else { continue }
                if typeFields.contains(field) { facts.valueTypes.insert(oid) }
                switch (field, currentNode) {
                case ("funcid", _), ("opfuncid", _): if oid != 0 { facts.functions.insert(oid) }
                case ("opno", _): facts.operators.insert(oid)
                case ("consttype", "CONST"): facts.constantTypes.insert(oid)
                default: break
                }
            default:
                i += 1
            }
        }
        return facts
    }

    /// Why an expression may depend on a setting, or `nil` when it cannot: `facts` from its
    /// view's tree, `functions` what the catalog says of every function in `facts.functions`
    /// and behind `facts.operators`, `text` the expression as the plan wrote it.
    public static func dependence(_ facts: NodeFacts, functions: [FunctionFacts], text: String) -> String? {
        if text.contains("\\") { return "a backslash in its text (standard_conforming_strings)" }
        if text.lowercased().contains("u&") { return "a Unicode escape in its text (standard_conforming_strings)" }
        if equalsNull(in: text) || facts.nullConstant { return "a NULL literal (transform_null_equals turns x = NULL into x IS NULL)" }
        if let node = facts.nodes.subtracting(allowedNodes).sorted().first { return "a \(node) node" }
        if let type = facts.constantTypes.subtracting(constantTypes).sorted().first { return "a constant of type \(type)" }
        if let type = facts.valueTypes.subtracting(valueTypes).sorted().first { return "a value of type \(type)" }
        let known = Dictionary(functions.map { ($0.oid, $0) }, uniquingKeysWith: { a, _ in a })
        for oid in facts.functions.sorted() {
            guard let function = known[oid] else { return "function \(oid) not found" }
            if oid >= firstUserObjectID { return "function \(oid) is not built in" }
            if function.volatility != "i" { return "function \(oid) is not immutable" }
            if function.typeIO { return "function \(oid) is a type's input or output" }
            if settingReadingFunctions.contains(function.name) { return "function \(function.name) reads a setting" }
            if !["internal", "c"].contains(function.language) { return "function \(oid) is LANGUAGE \(function.language)" }
        }
        return nil
    }

    /// Whether `text` compares with a bare `NULL` by `=` (`x = NULL`, `NULL = x`, parentheses
    /// allowed), which `transform_null_equals` turns into `IS NULL`. Over-approximates: `>= NULL`
    /// or the word in a string counts too.
    static func equalsNull(in text: String) -> Bool {
        let lower = Array(text.lowercased().utf8)
        let null = Array("null".utf8)
        func isWordByte(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 95 || b >= 128 }
        var i = 0
        while i + null.count <= lower.count {
            defer { i += 1 }
            guard Array(lower[i..<(i + null.count)]) == null,
                  i == 0 || !isWordByte(lower[i - 1]),
                  i + null.count == lower.count || !isWordByte(lower[i + null.count]) else { continue }
            var before = i - 1
            while before >= 0, [32, 9, 10, 13, 40].contains(lower[before]) { before -= 1 }
            var after = i + null.count
            while after < lower.count, [32, 9, 10, 13, 41].contains(lower[after]) { after += 1 }
            if (before >= 0 && lower[before] == UInt8(ascii: "=")) || (after < lower.count && lower[after] == UInt8(ascii: "=")) { return true }
        }
        return false
    }
}
