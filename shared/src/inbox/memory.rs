//! An inbox in memory: the `Inbox` port without HubSpot, for the flow tests (and anyone who
//! wants to run the flows without an inbox platform). It behaves as an inbox does where the
//! flows can tell: a message sent through it is stored in its conversation, as sent by this
//! app (so a sync sees it as an echo), messages come back oldest first, unknown ids are
//! `NotFound`, and a token it was not given is `Unauthorized`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::{
    Agent, Contact, Conversation, Direction, InboxError, InboxInfo, InboxTokens, Message,
    MessageKind, OutgoingMessage, Participant, Status,
};
use crate::inbox::Inbox;
use crate::support::secret::Secret;

#[derive(Default)]
struct State {
    conversations: HashMap<String, Conversation>,
    messages: HashMap<String, Vec<Message>>,
    agents: Vec<Agent>,
    contact_owners: HashMap<String, String>,
    availability: HashMap<String, bool>,
    inboxes: Vec<InboxInfo>,
    files: HashMap<String, (String, u64)>,
    sent: Vec<(String, OutgoingMessage)>,
    next_id: u64,
    clock_ms: i64,
}

pub struct MemoryInbox {
    /// The token calls must carry (the install's).
    token: String,
    /// The integration app id the messages it is sent are stored under.
    app_id: String,
    state: Mutex<State>,
}

impl MemoryInbox {
    pub fn new(token: &str, app_id: &str) -> Self {
        MemoryInbox {
            token: token.to_string(),
            app_id: app_id.to_string(),
            state: Mutex::new(State {
                clock_ms: 1_700_000_000_000,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A test that panicked while holding the lock has already failed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self, token: &Secret) -> Result<(), InboxError> {
        if token.expose() == self.token {
            Ok(())
        } else {
            Err(InboxError::Unauthorized)
        }
    }

    pub fn add_conversation(&self, c: Conversation) {
        let mut s = self.state();
        s.messages.entry(c.id.clone()).or_default();
        s.conversations.insert(c.id.clone(), c);
    }

    pub fn set_assignee(&self, conversation: &str, user_id: Option<&str>) {
        if let Some(c) = self.state().conversations.get_mut(conversation) {
            c.assignee_user_id = user_id.map(str::to_string);
        }
    }

    /// A visitor's message, stamped one second after the previous one.
    pub fn visitor_says(&self, conversation: &str, visitor: &str, text: &str) -> Message {
        let sender = Participant {
            id: Some(format!("V-{visitor}")),
            name: Some(visitor.to_string()),
            delivery: vec![],
        };
        self.push(
            conversation,
            MessageKind::Chat,
            Direction::FromVisitor,
            sender,
            text,
            None,
        )
    }

    /// An agent's message written in the inbox itself (not through this app).
    pub fn agent_says(&self, conversation: &str, agent: &str, text: &str) -> Message {
        let sender = Participant {
            id: Some(format!("A-{agent}")),
            name: Some(format!("Agent {agent}")),
            delivery: vec![],
        };
        self.push(
            conversation,
            MessageKind::Chat,
            Direction::FromAgent,
            sender,
            text,
            None,
        )
    }

    fn push(
        &self,
        conversation: &str,
        kind: MessageKind,
        direction: Direction,
        sender: Participant,
        text: &str,
        sent_by_app: Option<String>,
    ) -> Message {
        let mut s = self.state();
        s.next_id += 1;
        s.clock_ms += 1000;
        let m = Message {
            id: format!("m{}", s.next_id),
            kind,
            created_at: String::new(),
            created_at_ms: s.clock_ms,
            text: Some(text.to_string()),
            rich_text: None,
            direction: Some(direction),
            senders: vec![sender],
            sent_by_app,
            attachments: vec![],
            reply_route: Default::default(),
        };
        s.messages
            .entry(conversation.to_string())
            .or_default()
            .push(m.clone());
        m
    }

    pub fn add_agent(&self, a: Agent) {
        self.state().agents.push(a);
    }

    pub fn set_contact_owner(&self, contact: &str, owner_id: &str) {
        self.state()
            .contact_owners
            .insert(contact.to_string(), owner_id.to_string());
    }

    pub fn add_inbox(&self, i: InboxInfo) {
        self.state().inboxes.push(i);
    }

    /// What was sent through the port, in order: (conversation, message).
    pub fn sent(&self) -> Vec<(String, OutgoingMessage)> {
        self.state().sent.clone()
    }

    pub fn status_of(&self, conversation: &str) -> Option<Status> {
        self.state()
            .conversations
            .get(conversation)
            .map(|c| c.status.clone())
    }

    pub fn availability_of(&self, user_id: &str) -> Option<bool> {
        self.state().availability.get(user_id).copied()
    }
}

#[async_trait]
impl Inbox for MemoryInbox {
    async fn conversation(&self, token: &Secret, id: &str) -> Result<Conversation, InboxError> {
        self.check(token)?;
        self.state()
            .conversations
            .get(id)
            .cloned()
            .ok_or(InboxError::NotFound)
    }

    async fn messages(
        &self,
        token: &Secret,
        conversation: &str,
    ) -> Result<Vec<Message>, InboxError> {
        self.check(token)?;
        let mut all = self
            .state()
            .messages
            .get(conversation)
            .cloned()
            .ok_or(InboxError::NotFound)?;
        all.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn send(
        &self,
        token: &Secret,
        conversation: &str,
        msg: &OutgoingMessage,
    ) -> Result<Message, InboxError> {
        self.check(token)?;
        if !self.state().conversations.contains_key(conversation) {
            return Err(InboxError::NotFound);
        }
        if msg.text.is_empty() {
            // The inbox asks for text with every message.
            return Err(InboxError::Api {
                status: 400,
                category: "VALIDATION_ERROR".into(),
                message: "text is required".into(),
            });
        }
        self.state()
            .sent
            .push((conversation.to_string(), msg.clone()));
        let sender = Participant {
            id: Some(format!("A-{}", msg.agent_user_id)),
            name: None,
            delivery: vec![],
        };
        let kind = if msg.note {
            MessageKind::Note
        } else {
            MessageKind::Chat
        };
        Ok(self.push(
            conversation,
            kind,
            Direction::FromAgent,
            sender,
            &msg.text,
            Some(self.app_id.clone()),
        ))
    }

    async fn set_status(
        &self,
        token: &Secret,
        conversation: &str,
        status: &Status,
    ) -> Result<(), InboxError> {
        self.check(token)?;
        match self.state().conversations.get_mut(conversation) {
            Some(c) => {
                c.status = status.clone();
                Ok(())
            }
            None => Err(InboxError::NotFound),
        }
    }

    async fn assign(
        &self,
        token: &Secret,
        conversation: &str,
        agent_user_id: Option<&str>,
    ) -> Result<(), InboxError> {
        self.check(token)?;
        match self.state().conversations.get_mut(conversation) {
            Some(c) => {
                c.assignee_user_id = agent_user_id.map(str::to_string);
                Ok(())
            }
            None => Err(InboxError::NotFound),
        }
    }

    async fn active_since(
        &self,
        token: &Secret,
        after_ms: i64,
        max: usize,
    ) -> Result<Vec<Conversation>, InboxError> {
        self.check(token)?;
        let st = self.state();
        let mut out: Vec<Conversation> = st
            .conversations
            .values()
            .filter_map(|c| {
                let latest = st
                    .messages
                    .get(&c.id)?
                    .iter()
                    .map(|m| m.created_at_ms)
                    .max()?;
                (latest > after_ms).then(|| Conversation {
                    latest_message_ms: latest,
                    ..c.clone()
                })
            })
            .collect();
        out.sort_by_key(|c| (c.latest_message_ms, c.id.clone()));
        out.truncate(max);
        Ok(out)
    }

    async fn inboxes(&self, token: &Secret) -> Result<Vec<InboxInfo>, InboxError> {
        self.check(token)?;
        let mut all: Vec<InboxInfo> = self
            .state()
            .inboxes
            .iter()
            .filter(|i| !i.archived)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn agent_by_user_id(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<Agent>, InboxError> {
        self.check(token)?;
        Ok(self
            .state()
            .agents
            .iter()
            .find(|a| a.user_id.as_deref() == Some(user_id))
            .cloned())
    }

    async fn agent_by_email(
        &self,
        token: &Secret,
        email: &str,
    ) -> Result<Option<Agent>, InboxError> {
        self.check(token)?;
        Ok(self
            .state()
            .agents
            .iter()
            .find(|a| {
                !a.archived
                    && a.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .cloned())
    }

    async fn agent_by_id(&self, token: &Secret, id: &str) -> Result<Option<Agent>, InboxError> {
        self.check(token)?;
        Ok(self.state().agents.iter().find(|a| a.id == id).cloned())
    }

    async fn contact(
        &self,
        token: &Secret,
        contact_id: &str,
        _as_of_ms: i64,
    ) -> Result<Option<Contact>, InboxError> {
        self.check(token)?;
        Ok(self
            .state()
            .contact_owners
            .get(contact_id)
            .map(|owner| Contact {
                owner_id: Some(owner.clone()),
                last_page_seen: None,
            }))
    }

    async fn availability(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<bool>, InboxError> {
        self.check(token)?;
        Ok(self.state().availability.get(user_id).copied())
    }

    async fn set_availability(
        &self,
        token: &Secret,
        user_id: &str,
        available: bool,
    ) -> Result<(), InboxError> {
        self.check(token)?;
        self.state()
            .availability
            .insert(user_id.to_string(), available);
        Ok(())
    }

    async fn upload_file(
        &self,
        token: &Secret,
        name: &str,
        _mimetype: Option<&str>,
        data: bytes::Bytes,
    ) -> Result<String, InboxError> {
        self.check(token)?;
        let mut s = self.state();
        s.next_id += 1;
        let id = format!("f{}", s.next_id);
        s.files
            .insert(id.clone(), (name.to_string(), data.len() as u64));
        Ok(id)
    }

    async fn file_size(&self, token: &Secret, file_id: &str) -> Result<Option<u64>, InboxError> {
        self.check(token)?;
        Ok(self.state().files.get(file_id).map(|(_, n)| *n))
    }

    async fn exchange_code(
        &self,
        _client_id: &str,
        _client_secret: &Secret,
        _redirect_uri: &str,
        _code: &str,
    ) -> Result<InboxTokens, InboxError> {
        // Installs by OAuth are tested against the HubSpot adapter over HTTP.
        Err(InboxError::Api {
            status: 400,
            category: "BAD_AUTH_CODE".into(),
            message: "the in-memory inbox takes no OAuth installs".into(),
        })
    }

    async fn refresh(
        &self,
        _client_id: &str,
        _client_secret: &Secret,
        _refresh_token: &Secret,
    ) -> Result<InboxTokens, InboxError> {
        Err(InboxError::Api {
            status: 400,
            category: "BAD_REFRESH_TOKEN".into(),
            message: "the in-memory inbox takes no OAuth installs".into(),
        })
    }

    async fn token_portal(
        &self,
        _client_id: &str,
        _client_secret: &Secret,
        _access_token: &Secret,
    ) -> Result<String, InboxError> {
        Err(InboxError::NotFound)
    }

    async fn revoke(
        &self,
        _client_id: &str,
        _client_secret: &Secret,
        _refresh_token: &Secret,
    ) -> Result<(), InboxError> {
        // It grants nothing that would outlive a disconnect.
        Ok(())
    }
}
