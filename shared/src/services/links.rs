//! Links into the inbox.

use crate::app::App;

pub fn inbox_link(app: &App, portal: &str, thread: &str) -> String {
    format!(
        "{}/live-messages/{portal}/inbox/{thread}",
        app.settings.hubspot_app_url
    )
}
