import BellowsSQL
import Foundation
import Yams

/// Strict, error-collecting reading of a YAML node tree: every problem becomes a located
/// finding and reading goes on, so one run reports all the errors of a file.
struct NodeReader {
    let file: String
    let source: SourceText
    var findings: [Finding] = []

    init(file: String, source: String) {
        self.file = file
        self.source = SourceText(source)
    }

    func location(_ node: Node) -> SourceLocation {
        guard let mark = node.mark else { return SourceLocation(file: file, line: 1, column: 1) }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    /// Where the text of a scalar starts: after an opening quote, or on the first line of a block
    /// scalar. Used when a scalar's characters cannot be traced one by one (see `sourceMap`).
    func contentLocation(_ node: Node) -> SourceLocation {
        var location = location(node)
        guard case .scalar(let scalar) = node else { return location }
        switch scalar.style {
        case .singleQuoted, .doubleQuoted:
            location.column += 1
        case .literal, .folded:
            if location.line < source.lineStarts.count {
                var i = source.lineStarts[location.line]
                while i < source.scalars.count, source.scalars[i] == " " || source.scalars[i] == "\t" { i += 1 }
                location.line += 1
                location.column = i - source.lineStarts[location.line - 1] + 1
            }
        default:
            break
        }
        return location
    }

    /// Where each character of a scalar's value is in the file, nil when it cannot be traced.
    func sourceMap(_ node: Node) -> ExpressionSourceMap? {
        guard case .scalar(let scalar) = node, let indexes = source.trace(scalar) else { return nil }
        var anchors: [ExpressionSourceMap.Anchor] = []
        var previous: (line: Int, column: Int)?
        for (offset, index) in indexes.enumerated() {
            let position = source.position(of: index)
            if let previous, previous.line == position.line, previous.column + 1 == position.column {
                // continues the current run
            } else {
                anchors.append(.init(offset: offset, line: position.line, column: position.column))
            }
            previous = position
        }
        return ExpressionSourceMap(anchors: anchors)
    }

    mutating func report(_ node: Node, _ rule: String, _ message: String, severity: Severity = .error) {
        report(at: location(node), rule, message, severity: severity)
    }

    mutating func report(at location: SourceLocation, _ rule: String, _ message: String, severity: Severity = .error) {
        findings.append(Finding(at: location, severity: severity, rule: rule, message: message))
    }

    static func typeName(_ node: Node) -> String {
        switch node {
        case .scalar(let s):
            // YAML's null: an explicit !!null, or a plain ~, null, Null, NULL or nothing.
            if s.tag.description.hasSuffix(":null") || s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string) { return "null" }
            if Bool(s.string.lowercased()) != nil { return "a boolean" }
            if Int(s.string) != nil { return "a number" }
            return "a string"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The key/value pairs of a mapping, checking that every key is one of `allowed`.
    mutating func mapping(_ node: Node, what: String, allowed: [String]) -> [String: (key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            report(node, "plan-wrong-type", "\(what) must be a mapping, found \(Self.typeName(node))")
            return nil
        }
        var result: [String: (key: Node, value: Node)] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(keyNode, "plan-wrong-type", "keys in \(what) must be plain names")
                continue
            }
            if !allowed.contains(key.string) {
                var message = "unknown key '\(key.string)' in \(what)"
                if let suggestion = Suggestion.closest(to: key.string, in: allowed) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += "; expected one of: \(allowed.joined(separator: ", "))"
                }
                report(keyNode, "plan-unknown-key", message)
                continue
            }
            if result[key.string] != nil {
                report(keyNode, "plan-duplicate-key", "key '\(key.string)' appears twice in \(what)")
                continue
            }
            result[key.string] = (keyNode, value)
        }
        return result
    }

    mutating func string(_ node: Node?, key: String) -> Located<String>? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, Self.typeName(node) != "null" || scalar.style != .plain else {
            report(node, "plan-wrong-type", "'\(key)' must be a string, found \(Self.typeName(node))")
            return nil
        }
        if case .scalar = node, Self.typeName(node) == "null" {
            report(node, "plan-wrong-type", "'\(key)' must be a string, found null")
            return nil
        }
        return Located(scalar.string, at: location(node))
    }

    mutating func nonEmptyString(_ node: Node?, key: String) -> Located<String>? {
        guard let value = string(node, key: key), let node else { return nil }
        if value.value.unicodeScalars.allSatisfy({ $0 == " " || $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }) {
            report(node, "plan-invalid-value", "'\(key)' must not be empty")
            return nil
        }
        return value
    }

    /// A string that must be one of `allowed`; anything else is reported with the closest
    /// allowed value as a suggestion.
    mutating func choice(_ node: Node?, key: String, allowed: [String]) -> Located<String>? {
        guard let text = nonEmptyString(node, key: key), let node else { return nil }
        guard allowed.contains(text.value) else {
            var message = "'\(key)' must be one of \(allowed.joined(separator: ", ")), found '\(text.value)'"
            if let s = Suggestion.closest(to: text.value, in: allowed) { message += "; did you mean '\(s)'?" }
            report(node, "plan-invalid-value", message)
            return nil
        }
        return text
    }

    mutating func expression(_ node: Node?, key: String) -> PlanExpression? {
        guard let value = nonEmptyString(node, key: key), let node else { return nil }
        let map = sourceMap(node)
        let start = map?.anchors.first.map { SourceLocation(file: file, line: $0.line, column: $0.column) } ?? contentLocation(node)
        return PlanExpression(value.value, at: start, sourceMap: map)
    }

    mutating func bool(_ node: Node?, key: String) -> Located<Bool>? {
        guard let node else { return nil }
        if case .scalar(let scalar) = node, scalar.style == .plain, let value = Bool(scalar.string.lowercased()) {
            return Located(value, at: location(node))
        }
        report(node, "plan-wrong-type", "'\(key)' must be true or false, found \(Self.typeName(node))")
        return nil
    }

    mutating func int(_ node: Node?, key: String, minimum: Int = 0, maximum: Int? = nil) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            report(node, "plan-wrong-type", "'\(key)' must be a whole number, found \(Self.typeName(node))")
            return nil
        }
        if value < minimum {
            report(node, "plan-invalid-value", "'\(key)' must be at least \(minimum), found \(value)")
            return nil
        }
        if let maximum, value > maximum {
            report(node, "plan-invalid-value", "'\(key)' must be at most \(maximum), found \(value)")
            return nil
        }
        return value
    }

    /// A scalar as written (numbers and booleans included) and what it means by its YAML type, for `expect:`.
    mutating func expectation(_ node: Node?, key: String) -> (text: Located<String>, value: CheckExpectation)? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            report(node, "plan-wrong-type", "'\(key)' must be a single value, found \(Self.typeName(node))")
            return nil
        }
        let explicitString = scalar.tag.description.hasSuffix(":str")
        return (Located(scalar.string, at: location(node)),
                CheckExpectation(yaml: scalar.string, plain: scalar.style == .plain && !explicitString))
    }

    mutating func sequence(_ node: Node?, key: String) -> [Node]? {
        guard let node else { return nil }
        guard case .sequence(let sequence) = node else {
            report(node, "plan-wrong-type", "'\(key)' must be a list, found \(Self.typeName(node))")
            return nil
        }
        return Array(sequence)
    }

    mutating func stringList(_ node: Node?, key: String) -> [Located<String>] {
        guard let items = sequence(node, key: key) else { return [] }
        return items.compactMap { nonEmptyString($0, key: "\(key) entry") }
    }
}

/// "Did you mean" suggestions by edit distance.
public enum Suggestion {
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = max(2, word.count / 3)
        return best.1 <= limit ? best.0 : nil
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Where each character of a plan expression is in its file: runs of characters that sit side
/// by side on one line, each run starting at an anchor.
public struct ExpressionSourceMap: Sendable, Hashable {
    /// The `offset`th Unicode scalar of the expression is at `line:column` of the file; the
    /// scalars after it, up to the next anchor, at the following columns.
    public struct Anchor: Sendable, Hashable {
        public var offset: Int
        public var line: Int
        public var column: Int
    }

    public var anchors: [Anchor]

    /// The file position of the `offset`th Unicode scalar of the expression.
    public func position(ofOffset offset: Int) -> (line: Int, column: Int)? {
        var low = 0, high = anchors.count - 1
        var found: Anchor?
        while low <= high {
            let middle = (low + high) / 2
            if anchors[middle].offset <= offset { found = anchors[middle]; low = middle + 1 } else { high = middle - 1 }
        }
        guard let found else { return nil }
        return (found.line, found.column + offset - found.offset)
    }
}

extension PlanExpression {
    /// The file location of `line:column` within the expression's text (1-based, columns in
    /// Unicode scalars, as the SQL lexer counts them).
    public func sourceLocation(line: Int, column: Int) -> SourceLocation {
        var result = location
        guard let sourceMap else {
            // Without a map: exact on the first line of a plain or quoted scalar without escapes.
            if line > 1 { result.line += line - 1; result.column = column } else { result.column += column - 1 }
            return result
        }
        var offset = 0, currentLine = 1
        for scalar in text.unicodeScalars {
            if currentLine >= line { break }
            if scalar == "\n" { currentLine += 1 }
            offset += 1
        }
        offset += max(column - 1, 0)
        if let position = sourceMap.position(ofOffset: offset) {
            result.line = position.line
            result.column = position.column
        }
        return result
    }
}

/// A plan file's text as libyaml sees it: Unicode scalars, lines split at libyaml's line
/// breaks (`\r\n`, `\r`, `\n`, NEL, LS, PS), so YAML marks (line, column in characters) map to
/// indexes and back.
struct SourceText {
    let scalars: [Unicode.Scalar]
    /// Index in `scalars` of the first character of each line.
    let lineStarts: [Int]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        var starts = [0]
        var i = 0
        while i < scalars.count {
            let length = Self.breakLength(scalars, at: i)
            if length > 0 { i += length; starts.append(i) } else { i += 1 }
        }
        lineStarts = starts
    }

    static func breakLength(_ scalars: [Unicode.Scalar], at i: Int) -> Int {
        guard i < scalars.count else { return 0 }
        switch scalars[i] {
        case "\r": return i + 1 < scalars.count && scalars[i + 1] == "\n" ? 2 : 1
        case "\n", "\u{85}", "\u{2028}", "\u{2029}": return 1
        default: return 0
        }
    }

    func breakLength(at i: Int) -> Int { Self.breakLength(scalars, at: i) }

    func index(line: Int, column: Int) -> Int? {
        guard line >= 1, line <= lineStarts.count, column >= 1 else { return nil }
        let index = lineStarts[line - 1] + column - 1
        return index <= scalars.count ? index : nil
    }

    /// 1-based line and column of the scalar at `index`.
    func position(of index: Int) -> (line: Int, column: Int) {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= index { low = middle } else { high = middle - 1 }
        }
        return (low + 1, index - lineStarts[low] + 1)
    }

    /// The index in the file of each Unicode scalar of a scalar node's value, re-reading the
    /// node's source text the way libyaml reads it (quotes and escapes, folded lines, block
    /// indentation and chomping). Nil when the re-read does not give back exactly the value.
    func trace(_ scalar: Node.Scalar) -> [Int]? {
        guard let mark = scalar.mark, var start = index(line: mark.line, column: mark.column) else { return nil }
        // Node properties (a tag, an anchor) written before the value.
        while start < scalars.count, scalars[start] == "!" || scalars[start] == "&" {
            while start < scalars.count, scalars[start] != " " && scalars[start] != "\t" && breakLength(at: start) == 0 { start += 1 }
            while start < scalars.count, scalars[start] == " " || scalars[start] == "\t" { start += 1 }
        }
        var tracer = ScalarTracer(source: self, value: Array(scalar.string.unicodeScalars))
        guard start < scalars.count || tracer.value.isEmpty else { return nil }
        switch scalar.style {
        case .plain:
            tracer.flow(from: start, quote: nil)
        case .singleQuoted, .doubleQuoted:
            let quote: Unicode.Scalar = scalar.style == .singleQuoted ? "'" : "\""
            guard start < scalars.count, scalars[start] == quote else { return nil }
            tracer.flow(from: start + 1, quote: quote)
        case .literal, .folded:
            guard start < scalars.count, scalars[start] == "|" || scalars[start] == ">" else { return nil }
            tracer.block(from: start, folded: scalar.style == .folded)
        default:
            return nil
        }
        return tracer.produced == tracer.value ? tracer.indexes : nil
    }
}

/// Re-reads one scalar's source, recording for each character it produces where it came from.
private struct ScalarTracer {
    let source: SourceText
    let value: [Unicode.Scalar]
    var produced: [Unicode.Scalar] = []
    var indexes: [Int] = []

    init(source: SourceText, value: [Unicode.Scalar]) {
        self.source = source
        self.value = value
    }

    private var scalars: [Unicode.Scalar] { source.scalars }
    private var done: Bool { produced.count >= value.count }

    private mutating func emit(_ scalar: Unicode.Scalar, _ index: Int) {
        guard !done else { return }
        produced.append(scalar)
        indexes.append(index)
    }

    private func isBlank(_ i: Int) -> Bool { i < scalars.count && (scalars[i] == " " || scalars[i] == "\t") }

    private func skipBlanks(_ i: Int) -> Int {
        var i = i
        while isBlank(i) { i += 1 }
        return i
    }

    /// Plain, single- and double-quoted scalars: line breaks fold into a space (or, after empty
    /// lines, into one newline per empty line); blanks around a break are dropped. A plain
    /// scalar's end is not looked for: tracing stops once the value is complete.
    mutating func flow(from start: Int, quote: Unicode.Scalar?) {
        var i = start
        var blanks: [Int] = []
        while !done, i < scalars.count {
            let c = scalars[i]
            if let quote, c == quote {
                guard quote == "'", i + 1 < scalars.count, scalars[i + 1] == "'" else { return }
                for b in blanks { emit(scalars[b], b) }
                blanks.removeAll()
                emit("'", i)
                i += 2
                continue
            }
            if quote == "\"", c == "\\" {
                for b in blanks { emit(scalars[b], b) }
                blanks.removeAll()
                let lineBreak = source.breakLength(at: i + 1)
                if lineBreak > 0 { // an escaped line break joins the lines with nothing between them
                    i = skipBlanks(i + 1 + lineBreak)
                    while !done, source.breakLength(at: i) > 0 { emit("\n", i); i = skipBlanks(i + source.breakLength(at: i)) }
                    continue
                }
                guard let (decoded, length) = escape(at: i) else { return }
                emit(decoded, i)
                i += length
                continue
            }
            if c == " " || c == "\t" {
                blanks.append(i)
                i += 1
                continue
            }
            let lineBreak = source.breakLength(at: i)
            if lineBreak > 0 {
                blanks.removeAll()
                let at = i
                i = skipBlanks(i + lineBreak)
                var emptyLines = 0
                while source.breakLength(at: i) > 0 {
                    emptyLines += 1
                    i = skipBlanks(i + source.breakLength(at: i))
                }
                if emptyLines == 0 { emit(" ", at) } else { for _ in 0..<emptyLines { emit("\n", at) } }
                continue
            }
            for b in blanks { emit(scalars[b], b) }
            blanks.removeAll()
            emit(c, i)
            i += 1
        }
    }

    /// A double-quoted escape at `i` (the backslash): the character and the escape's length.
    private func escape(at i: Int) -> (Unicode.Scalar, Int)? {
        guard i + 1 < scalars.count else { return nil }
        let simple: [Unicode.Scalar: Unicode.Scalar] = [
            "0": "\u{0}", "a": "\u{7}", "b": "\u{8}", "t": "\t", "\t": "\t", "n": "\n", "v": "\u{B}", "f": "\u{C}", "r": "\r",
            "e": "\u{1B}", " ": " ", "\"": "\"", "/": "/", "\\": "\\", "N": "\u{85}", "_": "\u{A0}", "L": "\u{2028}", "P": "\u{2029}",
        ]
        let e = scalars[i + 1]
        if let decoded = simple[e] { return (decoded, 2) }
        let digits: Int
        switch e {
        case "x": digits = 2
        case "u": digits = 4
        case "U": digits = 8
        default: return nil
        }
        guard i + 2 + digits <= scalars.count else { return nil }
        let hex = String(String.UnicodeScalarView(scalars[(i + 2)..<(i + 2 + digits)]))
        guard let code = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(code) else { return nil }
        return (decoded, 2 + digits)
    }

    /// Literal (`|`) and folded (`>`) block scalars, as libyaml's `scan_block_scalar` reads them.
    mutating func block(from start: Int, folded: Bool) {
        var i = start + 1
        var chomping = 0, increment = 0
        for _ in 0..<2 where i < scalars.count {
            switch scalars[i] {
            case "+": chomping = 1; i += 1
            case "-": chomping = -1; i += 1
            case "1"..."9": increment = Int(scalars[i].value - 48); i += 1
            default: break
            }
        }
        while i < scalars.count, source.breakLength(at: i) == 0 { i += 1 } // blanks and a comment
        guard i < scalars.count else { return }
        i += source.breakLength(at: i)
        var indent: Int
        if increment > 0 {
            indent = parentIndent(of: start) + increment
        } else {
            // The first non-empty line sets the indentation (at least that of leading empty lines).
            var j = i, widest = 0
            indent = 0
            while j < scalars.count {
                let lineStart = j
                while j < scalars.count, scalars[j] == " " { j += 1 }
                let length = source.breakLength(at: j)
                if length > 0 { widest = max(widest, j - lineStart); j += length; continue }
                indent = max(j - lineStart, widest)
                break
            }
            guard indent > 0 else { return }
        }
        func column(_ i: Int) -> Int { source.position(of: i).column - 1 }
        func breaks(_ i: inout Int, _ trailing: inout [Int]) {
            while true {
                while column(i) < indent, i < scalars.count, scalars[i] == " " { i += 1 }
                let length = source.breakLength(at: i)
                guard length > 0 else { return }
                trailing.append(i)
                i += length
            }
        }
        var leadingBreak: Int?
        var trailingBreaks: [Int] = []
        var leadingBlank = false
        breaks(&i, &trailingBreaks)
        while !done, i < scalars.count, column(i) == indent {
            let trailingBlank = isBlank(i)
            if folded, let lineBreak = leadingBreak, scalars[lineBreak] != "\u{2028}", scalars[lineBreak] != "\u{2029}", !leadingBlank, !trailingBlank {
                if trailingBreaks.isEmpty { emit(" ", lineBreak) }
            } else if let lineBreak = leadingBreak {
                emit("\n", lineBreak)
            }
            leadingBreak = nil
            for b in trailingBreaks { emit("\n", b) }
            trailingBreaks.removeAll()
            leadingBlank = isBlank(i)
            while i < scalars.count, source.breakLength(at: i) == 0 {
                emit(scalars[i], i)
                i += 1
            }
            guard i < scalars.count else { break }
            leadingBreak = i
            i += source.breakLength(at: i)
            breaks(&i, &trailingBreaks)
        }
        if chomping != -1, let lineBreak = leadingBreak { emit("\n", lineBreak) }
        if chomping == 1 { for b in trailingBreaks { emit("\n", b) } }
    }

    /// The indentation of the block collection holding the scalar starting at `start` (for an
    /// explicit indentation indicator): the column of the key on the indicator's line.
    private func parentIndent(of start: Int) -> Int {
        let lineStart = source.lineStarts[source.position(of: start).line - 1]
        var i = lineStart
        var lastDash = lineStart
        while i < start {
            while i < start, scalars[i] == " " { i += 1 }
            guard i + 1 < start, scalars[i] == "-", scalars[i + 1] == " " else { break }
            lastDash = i
            i += 2
        }
        return i == start ? lastDash - lineStart : i - lineStart
    }
}
