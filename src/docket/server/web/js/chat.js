// Chat: ask questions in a conversation; answers stream in, cite their sources, take feedback.

import { api, listOf, stream } from "./api.js";
import { showAnswer } from "./answer.js";
import { errorBox, fill, h, when } from "./dom.js";
import { icon } from "./icons.js";
import { pickWorkspace, session, workspaces } from "./session.js";

function turnElement(question) {
  const answer = h("div", { class: "answer", "aria-live": "polite", "aria-busy": "true" });
  const item = h(
    "li",
    { class: "turn" },
    h("div", { class: "question" }, h("span", { class: "sr-only" }, "You asked: "), question),
    answer,
  );
  return { item, answer };
}

function rewritten(message, query) {
  if (!query || query.trim() === message.trim()) return null;
  return h("p", { class: "muted rewritten" }, `Searched for: ${query}`);
}

async function conversationList(list, activeId) {
  try {
    const data = await api("GET", "/api/chat");
    const items = listOf(data, "conversations");
    if (!items.length) {
      fill(list, h("li", { class: "muted" }, "No conversations yet."));
      return;
    }
    fill(
      list,
      items.map((c) =>
        h(
          "li",
          {},
          h(
            "a",
            { href: `#/chat/${encodeURIComponent(c.id)}`, "aria-current": c.id === activeId ? "page" : null },
            h("span", { class: "conv-title" }, c.title || "Untitled"),
            h("small", { class: "muted" }, `${c.turns} ${c.turns === 1 ? "turn" : "turns"} · ${when(c.updated)}`),
          ),
        ),
      ),
    );
  } catch (err) {
    fill(list, h("li", {}, errorBox(err.message)));
  }
}

/** Past turns hold the answer's text; its citations and sources come from the answer log. */
async function replayTurn(turn, answerEl) {
  showAnswer(answerEl, { answer: turn.answer, citations: [], sources: [], log_id: turn.log_id });
  answerEl.setAttribute("aria-busy", "false");
  if (turn.log_id === null || turn.log_id === undefined) return;
  try {
    const log = await api("GET", `/api/logs/${encodeURIComponent(turn.log_id)}`);
    showAnswer(answerEl, {
      answer: turn.answer,
      abstained: log.abstained,
      citations: log.citations || [],
      sources: log.sources || [],
      notes: log.notes || [],
      log_id: turn.log_id,
    });
  } catch {
    // the plain text is still there
  }
}

export async function render(main, { rest }) {
  let conversation = rest || null;
  let conversationWorkspace = null;

  const list = h("ul", { class: "conversation-list" });
  const turns = h("ol", { class: "turns", "aria-label": "Conversation" });
  const input = h("textarea", {
    id: "question",
    name: "question",
    rows: "2",
    maxlength: "4000",
    required: true,
    placeholder: "Ask about your documents…",
  });
  const sendButton = h("button", { type: "submit", class: "primary" }, icon("send"), h("span", {}, "Ask"));
  const formError = h("div");
  const heading = h("h1", { tabindex: "-1" }, "Chat");
  const context = h("p", { class: "muted context" });

  const noWorkspace = !workspaces().length && !session.me.user.role.match(/owner|admin/);

  const ask = async (message) => {
    const { item, answer } = turnElement(message);
    turns.append(item);
    const text = h("div", { class: "answer-text streaming" });
    fill(answer, h("p", { class: "muted thinking" }, "Searching your documents…"), text);
    item.scrollIntoView({ block: "start" }); // the question on top, its answer streaming below
    let started = false;
    sendButton.disabled = true;
    try {
      const body = { message };
      if (conversation) body.conversation = conversation;
      const ws = conversationWorkspace || session.workspace;
      if (ws) body.workspace = ws;
      const result = await stream("/api/chat", body, (piece) => {
        if (!started) {
          started = true;
          answer.querySelector(".thinking")?.remove();
        }
        text.append(piece);
      });
      showAnswer(answer, result);
      const note = rewritten(message, result.query);
      if (note) answer.prepend(note);
      if (!conversation && result.conversation) {
        conversation = result.conversation;
        conversationWorkspace = ws || null;
        window.history.replaceState(null, "", `#/chat/${encodeURIComponent(conversation)}`);
      }
      conversationList(list, conversation);
    } catch (err) {
      fill(answer, errorBox(`No answer: ${err.message}`));
    } finally {
      answer.setAttribute("aria-busy", "false");
      sendButton.disabled = false;
    }
  };

  const form = h(
    "form",
    {
      class: "ask-form",
      onsubmit: (event) => {
        event.preventDefault();
        fill(formError);
        const message = input.value.trim();
        if (!message) {
          fill(formError, errorBox("Type a question first."));
          input.focus();
          return;
        }
        input.value = "";
        ask(message);
        input.focus();
      },
    },
    h("label", { for: "question" }, "Your question"),
    h("div", { class: "ask-row" }, input, sendButton),
    h("small", { class: "hint" }, "Enter sends; Shift+Enter starts a new line."),
    formError,
  );
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  fill(
    main,
    h(
      "div",
      { class: "chat" },
      h(
        "section",
        { class: "conversations", "aria-labelledby": "conversations-title" },
        h("h2", { id: "conversations-title" }, "Conversations"),
        h("a", { class: "button secondary new-conversation", href: "#/chat" }, "New conversation"),
        list,
      ),
      h(
        "section",
        { class: "thread", "aria-labelledby": "chat-title" },
        heading,
        context,
        noWorkspace
          ? h("p", { class: "notice" }, "You are not a member of any workspace yet: ask an administrator to add you.")
          : null,
        turns,
        form,
      ),
    ),
  );
  heading.id = "chat-title";
  conversationList(list, conversation);

  if (conversation) {
    try {
      const data = await api("GET", `/api/chat/${encodeURIComponent(conversation)}`);
      conversationWorkspace = data.workspace || null;
      if (conversationWorkspace && conversationWorkspace !== session.workspace) {
        if (workspaces().some((w) => w.name === conversationWorkspace)) {
          pickWorkspace(conversationWorkspace);
          const select = document.getElementById("workspace");
          if (select) select.value = conversationWorkspace;
        }
      }
      for (const turn of data.turns || []) {
        const { item, answer } = turnElement(turn.question);
        turns.append(item);
        replayTurn(turn, answer).then(() => {
          const note = rewritten(turn.question, turn.query);
          if (note) answer.prepend(note);
        });
      }
      heading.textContent = "Chat";
    } catch (err) {
      conversation = null;
      turns.append(h("li", {}, errorBox(err.message)));
    }
  }
  const ws = conversationWorkspace || session.workspace;
  context.textContent = ws ? `Answers come from the documents of the workspace “${ws}”.` : "Answers come from every workspace you can read.";
}
