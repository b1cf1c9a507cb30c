import Foundation

/// Splits a SQL script into statements at top-level semicolons, respecting single- and double-quoted
/// strings, dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`) and comments. postgres-nio sends one
/// statement per query (extended protocol), so a migration file is run statement by statement.
public enum SQLStatements {
    public static func split(_ sql: String) -> [String] {
        let s = Array(sql.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if !isOnlyComments(text) { statements.append(text) }
            current = String.UnicodeScalarView()
        }
        while i < s.count {
            let c = s[i]
            let next: Unicode.Scalar? = i + 1 < s.count ? s[i + 1] : nil
            if c == "-" && next == "-" {  // line comment
                while i < s.count && s[i] != "\n" { current.append(s[i]); i += 1 }
                continue
            }
            if c == "/" && next == "*" {  // block comment (PostgreSQL nests them)
                var depth = 0
                repeat {
                    if s[i] == "/" && i + 1 < s.count && s[i + 1] == "*" { depth += 1; current.append(s[i]); i += 1 }
                    else if s[i] == "*" && i + 1 < s.count && s[i + 1] == "/" { depth -= 1; current.append(s[i]); i += 1 }
                    current.append(s[i]); i += 1
                } while depth > 0 && i < s.count
                continue
            }
            if c == "'" || c == "\"" {  // quoted: a doubled quote escapes itself
                current.append(c); i += 1
                while i < s.count {
                    current.append(s[i])
                    if s[i] == c {
                        if i + 1 < s.count && s[i + 1] == c { current.append(s[i + 1]); i += 2; continue }
                        i += 1
                        break
                    }
                    i += 1
                }
                continue
            }
            if c == "$", let tagEnd = dollarTagEnd(s, i) {
                let tag = Array(s[i ... tagEnd])
                for u in tag { current.append(u) }
                i = tagEnd + 1
                while i < s.count {
                    if s[i] == "$" && i + tag.count <= s.count && Array(s[i ..< i + tag.count]) == tag {
                        for u in tag { current.append(u) }
                        i += tag.count
                        break
                    }
                    current.append(s[i]); i += 1
                }
                continue
            }
            if c == ";" { flush(); i += 1; continue }
            current.append(c); i += 1
        }
        flush()
        return statements
    }

    /// `$tag$` starting at `start` (tag: letters, digits, underscore, not starting with a digit).
    static func dollarTagEnd(_ s: [Unicode.Scalar], _ start: Int) -> Int? {
        var j = start + 1
        while j < s.count, s[j] == "_" || s[j].properties.isAlphabetic || ("0" ... "9").contains(s[j]) {
            if j == start + 1, ("0" ... "9").contains(s[j]) { return nil }
            j += 1
        }
        return j < s.count && s[j] == "$" ? j : nil
    }

    static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") || $0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
