//! `command_header!`: declares a header struct with each field's Java name, so the name
//! appears once and decode and encode cannot disagree.

/// ```ignore
/// command_header! {
///     /// What the header is for.
///     pub struct GetRouteInfoRequestHeader {
///         topic: String = "topic",                          // @CFNotNull
///         accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
///     }
/// }
/// ```
/// A field of type `Option<T>` is optional; any other type is mandatory.
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $field:ident : $kind:ident $(< $inner:ty >)? = $java:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( pub $field: command_header!(@type $kind $(< $inner >)?), )*
        }

        impl $crate::header::CommandHeader for $name {
            fn decode(
                fields: &$crate::remoting::ExtFields,
            ) -> Result<Self, $crate::header::HeaderError> {
                Ok($name {
                    $( $field: command_header!(@decode fields, $java, $kind $(< $inner >)?), )*
                })
            }

            fn encode(&self, fields: &mut $crate::remoting::ExtFields) {
                use $crate::header::FieldValue;
                $( command_header!(@encode self.$field, fields, $java, $kind $(< $inner >)?); )*
            }
        }
    };
    (@type Option < $inner:ty >) => { Option<$inner> };
    (@type $kind:ident) => { $kind };
    (@decode $fields:ident, $java:literal, Option < $inner:ty >) => {
        $crate::header::optional::<$inner>($fields, $java)?
    };
    (@decode $fields:ident, $java:literal, $kind:ident) => {
        $crate::header::required::<$kind>($fields, $java)?
    };
    (@encode $value:expr, $fields:ident, $java:literal, Option < $inner:ty >) => {
        if let Some(value) = &$value {
            $fields.insert($java, value.format_field());
        }
    };
    (@encode $value:expr, $fields:ident, $java:literal, $kind:ident) => {
        $fields.insert($java, $value.format_field());
    };
}

pub(crate) use command_header;
