import BellowsSQL
import Foundation
import Yams

/// Strict, error-collecting reading of a YAML node tree: every problem becomes a located
/// finding and reading goes on, so one run reports all the errors of a file.
struct NodeReader {
    let file: String
    let lines: [Substring]
    var findings: [Finding] = []

    init(file: String, source: String) {
        self.file = file
        self.lines = source.split(separator: "\n", omittingEmptySubsequences: false)
    }

    func location(_ node: Node) -> SourceLocation {
        guard let mark = node.mark else { return SourceLocation(file: file, line: 1, column: 1) }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    /// Where the text of a scalar starts: after an opening quote, or on the first line of a block scalar.
    func contentLocation(_ node: Node) -> SourceLocation {
        var location = location(node)
        guard case .scalar(let scalar) = node else { return location }
        switch scalar.style {
        case .singleQuoted, .doubleQuoted:
            location.column += 1
        case .literal, .folded:
            let next = location.line // 0-based index of the following line
            if next < lines.count {
                location.line += 1
                location.column = (lines[next].firstIndex(where: { $0 != " " && $0 != "\t" })
                    .map { lines[next].distance(from: lines[next].startIndex, to: $0) } ?? 0) + 1
            }
        default:
            break
        }
        return location
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
            if s.tag.description.hasSuffix(":null") || s.string == "~" || s.string == "null" || s.string.isEmpty && s.style == .plain { return "null" }
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
        if value.value.trimmingCharacters(in: .whitespaces).isEmpty {
            report(node, "plan-invalid-value", "'\(key)' must not be empty")
            return nil
        }
        return value
    }

    mutating func expression(_ node: Node?, key: String) -> PlanExpression? {
        guard let value = nonEmptyString(node, key: key), let node else { return nil }
        return PlanExpression(value.value, at: contentLocation(node))
    }

    mutating func bool(_ node: Node?, key: String) -> Located<Bool>? {
        guard let node else { return nil }
        if case .scalar(let scalar) = node, scalar.style == .plain, let value = Bool(scalar.string.lowercased()) {
            return Located(value, at: location(node))
        }
        report(node, "plan-wrong-type", "'\(key)' must be true or false, found \(Self.typeName(node))")
        return nil
    }

    mutating func int(_ node: Node?, key: String, minimum: Int = 0) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            report(node, "plan-wrong-type", "'\(key)' must be a whole number, found \(Self.typeName(node))")
            return nil
        }
        if value < minimum {
            report(node, "plan-invalid-value", "'\(key)' must be at least \(minimum), found \(value)")
            return nil
        }
        return value
    }

    /// A scalar rendered as text (numbers and booleans included), for `expect:`.
    mutating func scalarText(_ node: Node?, key: String) -> Located<String>? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            report(node, "plan-wrong-type", "'\(key)' must be a single value, found \(Self.typeName(node))")
            return nil
        }
        return Located(scalar.string, at: location(node))
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
enum Suggestion {
    static func closest(to word: String, in candidates: [String]) -> String? {
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
