import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A small element tree for Query and REST-XML responses.
public struct XMLElement: Sendable, Hashable {
    public var name: String
    public var text: String
    public var children: [XMLElement]

    public init(name: String, text: String = "", children: [XMLElement] = []) {
        self.name = name
        self.text = text
        self.children = children
    }

    public subscript(_ name: String) -> XMLElement? { children.first { $0.name == name } }

    /// The first descendant at a path of child names.
    public func at(_ path: String...) -> XMLElement? { walk(path) }

    /// The text at a path of child names.
    public func string(_ path: String...) -> String? { walk(path)?.text }

    private func walk(_ path: [String]) -> XMLElement? {
        path.reduce(self as XMLElement?) { node, name in node?[name] }
    }

    /// `<Items><member>…</member>…</Items>` → the members.
    public func members(_ name: String) -> [XMLElement] { self[name]?.children ?? [] }

    public static func parse(_ bytes: [UInt8]) -> XMLElement? {
        let builder = Builder()
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLElement] = []
        var root: XMLElement?

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            stack.append(XMLElement(name: name))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            var element = stack.removeLast()
            if !element.children.isEmpty { element.text = element.text.trimmingCharacters(in: .whitespacesAndNewlines) }
            if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
        }
    }
}

func xmlEscape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
