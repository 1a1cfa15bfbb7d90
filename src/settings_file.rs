//! The TOML settings file (`--config`): each key `some_setting` stands for the environment
//! variable `SATISFY_SOME_SETTING`. Self-contained (only `toml`), so the fuzz target of
//! settings files (fuzz/) compiles this very file without the rest of Satisfy.

/// The `(variable, value)` pairs `text` sets, in the file's order. Unknown keys, and values
/// other than strings, numbers and booleans, are refused with a message naming them.
pub fn variables(text: &str, known_env: &[String]) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut variables = Vec::with_capacity(table.len());
    for (key, value) in table {
        let env = format!("SATISFY_{}", key.to_ascii_uppercase());
        if !known_env.contains(&env) {
            return Err(format!("unknown setting `{key}`"));
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "`{key}` must be a string, number or boolean, not {other}"
                ));
            }
        };
        variables.push((env, value));
    }
    Ok(variables)
}
