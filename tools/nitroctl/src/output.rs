//! How answers are printed: tables and key-value lists for people, JSON for
//! scripts.

use serde::Serialize;

/// Rows of a table with `N` columns.
pub type Rows<const N: usize> = Vec<[String; N]>;

/// Renders rows under headers, columns padded to their widest cell.
pub fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut width = [0usize; N];
    for (column, header) in headers.iter().enumerate() {
        width[column] = header.len();
    }
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            width[column] = width[column].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (column, cell) in cells.iter().enumerate() {
            if column + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{:<w$}  ", cell, w = width[column]));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A table cell: `-` for nothing.
pub fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.into()
    }
}

/// Key-value view of one object: a line per field, `-` for an empty or
/// absent (`null`) one.
pub fn key_values<T: Serialize>(value: &T) -> String {
    let fields = serde_json::to_value(value).unwrap_or_default();
    let mut out = String::new();
    if let Some(map) = fields.as_object() {
        for (key, value) in map {
            out.push_str(&key_value(key, value));
        }
    }
    out
}

/// One line of a key-value view.
pub fn key_value(key: &str, value: &serde_json::Value) -> String {
    let value = match value {
        serde_json::Value::String(text) if text.is_empty() => "-".to_string(),
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    format!("{key:<11} {value}\n")
}

/// JSON for scripts, pretty-printed, one document.
pub fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("report types serialize") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_their_widest_cell() {
        let rows: Rows<3> = vec![
            ["a".into(), "long cell".into(), "x".into()],
            ["bb".into(), String::new(), "last is not padded".into()],
            ["c".into(), "d".into(), String::new()],
        ];
        assert_eq!(
            table(&["ONE", "TWO", "THREE"], &rows),
            "ONE  TWO        THREE\n\
             a    long cell  x\n\
             bb              last is not padded\n\
             c    d\n",
            "no trailing spaces"
        );
        assert_eq!(table(&["ONLY"], &[]), "ONLY\n");
    }

    #[test]
    fn key_values_dash_empty_fields() {
        #[derive(Serialize)]
        struct Object {
            id: &'static str,
            name: &'static str,
            size: u32,
            instance: Option<&'static str>,
        }
        let object = Object {
            id: "vol-1",
            name: "",
            size: 7,
            instance: None,
        };
        assert_eq!(
            key_values(&object),
            "id          vol-1\ninstance    -\nname        -\nsize        7\n",
            "fields in name order"
        );
        assert_eq!(or_dash(""), "-");
        assert_eq!(or_dash("sdf"), "sdf");
    }
}
