//! Delivery health, as the Home tab shows it.

use crate::app::App;
use crate::domain::Install;

/// Records a delivery for the Home tab's health: at most one write a minute, and a read
/// only when `seen` (the install as the delivery read it) says one may be due.
pub async fn note_delivery(app: &App, seen: &Install) {
    let now = app.clock.now_secs();
    if seen.last_delivery_at.is_some_and(|t| now - t < 60) {
        return;
    }
    let portal = seen.portal_id.as_str();
    let saved = app
        .records
        .update_install(portal, |i| {
            let due = i.last_delivery_at.is_none_or(|t| now - t >= 60);
            if due {
                i.last_delivery_at = Some(now);
            }
            due
        })
        .await;
    if let Err(e) = saved {
        tracing::warn!(portal, error = %e, "last delivery time not saved");
    }
}
