//! How a policy table is declared once: [`policy_table!`] turns one struct (each key a
//! field with its `policy show` serializer and its merge rule) into the resolved table,
//! the table of one file in an `extends` chain (every key optional), the fold of the
//! second over the first, and the list of the table's keys. Adding a key to a table is
//! one line there; `policy show`, the audit hash, the fold and the completeness test
//! (`policy::tests::every_key_is_everywhere`) follow from it.

use std::collections::BTreeMap;

/// Merge rule: a layer's value replaces its parent's (scalars, lists, whole tables).
pub(crate) fn replace<T>(slot: &mut T, value: T) {
    *slot = value;
}

/// Merge rule: a layer's map extends its parent's, key by key (`env.set`).
pub(crate) fn extend<K: Ord, V>(slot: &mut BTreeMap<K, V>, value: BTreeMap<K, V>) {
    slot.extend(value);
}

/// Declares a policy table. Each field is `pub NAME: TYPE => RULE,` where `RULE` names a
/// function of this module (`replace`, `extend`); field attributes (serde's
/// `serialize_with`, docs) are kept on the resolved struct.
macro_rules! policy_table {
    (
        $(#[$struct_meta:meta])*
        pub struct $name:ident, layer $layer:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident: $type:ty => $rule:ident,
            )*
        }
    ) => {
        $(#[$struct_meta])*
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: $type,
            )*
        }

        #[doc = concat!("One file's `", stringify!($name), "`: `None` where the file leaves the key to the policy it extends.")]
        #[derive(Debug, Clone, Default)]
        pub(crate) struct $layer {
            $(pub $field: Option<$type>,)*
        }

        impl $name {
            /// The table's keys, in the order `policy show` prints them.
            #[cfg_attr(not(test), allow(dead_code))]
            pub(crate) const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Folds one layer over this table, each key by its merge rule.
            pub(crate) fn apply(&mut self, layer: $layer) {
                $(
                    if let Some(value) = layer.$field {
                        $crate::policy::merge::$rule(&mut self.$field, value);
                    }
                )*
            }
        }
    };
}

pub(crate) use policy_table;
