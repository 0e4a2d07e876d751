/// Replaces the password of a URL such as `postgres://user:secret@host/db` with `****`.
/// Also masks a `password=` query parameter. Anything that is not a URL is returned unchanged.
pub fn mask_url_password(url: &str) -> String {
    let masked = match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:****{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    };
    mask_query_password(&masked)
}

fn mask_query_password(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let (base, query) = url.split_at(q + 1);
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::mask_url_password;

    #[test]
    fn masks_password_in_userinfo() {
        assert_eq!(
            mask_url_password("postgres://tg:s3cr3t@db:5432/tollgate"),
            "postgres://tg:****@db:5432/tollgate"
        );
    }

    #[test]
    fn keeps_url_without_password() {
        assert_eq!(
            mask_url_password("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            mask_url_password("sqlite://tollgate.db"),
            "sqlite://tollgate.db"
        );
    }

    #[test]
    fn masks_password_query_parameter() {
        assert_eq!(
            mask_url_password("postgres://db/x?sslmode=require&password=hunter2"),
            "postgres://db/x?sslmode=require&password=****"
        );
    }
}
