//! Names in text for the domain's enums (statuses, kinds, severities), written once per enum.
//! The same words are stored in the database, sent to the providers and shown to the owner.

/// Gives an existing enum its names from one list: `ALL` (in the list's order), `as_str`,
/// `parse` (the exact name; `None` for any other text) and `Display`. `as_str` is an
/// exhaustive match, so a variant left out of the list does not compile.
macro_rules! text_names {
    ($name:ident { $($variant:ident => $text:literal,)+ }) => {
        impl $name {
            /// Every value, in the order of its names.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The value's name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value a name stands for; `None` for any other text.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_names;
