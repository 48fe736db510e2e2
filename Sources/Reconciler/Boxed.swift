/// Keeps a large value out of line: a struct holding it stays small, so a
/// dictionary of records (the store's) costs a pointer per field, and copying
/// that dictionary (a resync holding a snapshot while the store writes) does
/// not duplicate every pod inline. Value semantics: setting replaces the box.
/// Coded as the value itself, so the journal format does not change.
@propertyWrapper
public struct Boxed<Value: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    private final class Box: Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }
    private var box: Box

    public init(wrappedValue: Value) { box = Box(wrappedValue) }

    public var wrappedValue: Value {
        get { box.value }
        set { box = Box(newValue) }
    }

    public init(from decoder: any Decoder) throws {
        box = Box(try decoder.singleValueContainer().decode(Value.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(box.value)
    }

    public static func == (a: Boxed, b: Boxed) -> Bool { a.box === b.box || a.box.value == b.box.value }
}
