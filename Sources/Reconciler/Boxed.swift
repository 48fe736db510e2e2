import Model

/// Keeps a large value out of line: a struct holding it stays small, so a
/// dictionary of records (the store's) costs a pointer per field, and copying
/// that dictionary (a resync holding a snapshot while the store writes) does
/// not duplicate every pod inline. Value semantics (`CopyOnWrite`). Coded as
/// the value itself, so the journal format does not change.
@propertyWrapper
public struct Boxed<Value: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    private var box: CopyOnWrite<Value>

    public init(wrappedValue: Value) { box = CopyOnWrite(wrappedValue) }

    public var wrappedValue: Value {
        get { box.value }
        set { box = CopyOnWrite(newValue) }  // a new box: the old value is not copied first
    }

    public init(from decoder: any Decoder) throws { box = try CopyOnWrite(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try box.encode(to: encoder) }
}
